// The site theme: VitePress's default theme plus a few styles for graphs and tested-command notes.
import DefaultTheme from 'vitepress/theme';
import './custom.css';

export default DefaultTheme;

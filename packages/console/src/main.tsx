/** Entry: styles, then the app. */
import { createRoot } from 'react-dom/client';
import '@fontsource-variable/inter';
import '@xterm/xterm/css/xterm.css';
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { App } from './app';

createRoot(document.getElementById('root')!).render(<App />);

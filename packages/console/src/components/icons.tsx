/** The few line icons the console uses (inline SVG, 16 px, currentColor). */
import type { ReactElement } from 'react';

const paths: Record<string, ReactElement> = {
  box: (
    <>
      <path d="M3 5.5 8 3l5 2.5v5L8 13l-5-2.5z" />
      <path d="M3 5.5 8 8l5-2.5M8 8v5" />
    </>
  ),
  layers: (
    <>
      <path d="M8 2.5 14 5.5 8 8.5 2 5.5z" />
      <path d="M2 8.5l6 3 6-3M2 11l6 3 6-3" />
    </>
  ),
  camera: (
    <>
      <rect x="2" y="4.5" width="12" height="8.5" rx="1.5" />
      <path d="M5.5 4.5 6.5 3h3l1 1.5" />
      <circle cx="8" cy="8.7" r="2.3" />
    </>
  ),
  logout: (
    <>
      <path d="M6 13.5H3.5v-11H6M10.5 11l3-3-3-3M13.5 8H6" />
    </>
  ),
  plus: <path d="M8 3v10M3 8h10" />,
  pause: <path d="M5.5 3.5v9M10.5 3.5v9" />,
  play: <path d="M5 3.5v9l7.5-4.5z" />,
  trash: (
    <>
      <path d="M2.5 4.5h11M6 4.5V3h4v1.5M4 4.5l.7 9h6.6l.7-9" />
    </>
  ),
  clock: (
    <>
      <circle cx="8" cy="8" r="5.5" />
      <path d="M8 5v3.2l2 1.3" />
    </>
  ),
  folder: <path d="M2 4.5A1 1 0 0 1 3 3.5h3l1.5 1.5H13a1 1 0 0 1 1 1v6a1 1 0 0 1-1 1H3a1 1 0 0 1-1-1z" />,
  file: (
    <>
      <path d="M4 2h5l3 3v9H4z" />
      <path d="M9 2v3h3" />
    </>
  ),
  download: <path d="M8 2.5v8M4.5 7.5 8 11l3.5-3.5M3 13.5h10" />,
  upload: <path d="M8 11V3M4.5 6 8 2.5 11.5 6M3 13.5h10" />,
  refresh: <path d="M13 8a5 5 0 1 1-1.5-3.6M13 2.5v3h-3" />,
  external: <path d="M9 3h4v4M13 3 7.5 8.5M11 9.5V13H3V5h3.5" />,
  copy: (
    <>
      <rect x="5.5" y="5.5" width="8" height="8" rx="1" />
      <path d="M10.5 5.5V3a.5.5 0 0 0-.5-.5H3a.5.5 0 0 0-.5.5v7a.5.5 0 0 0 .5.5h2.5" />
    </>
  ),
  x: <path d="M4 4l8 8M12 4l-8 8" />,
  up: <path d="M8 13V3M4 7l4-4 4 4" />,
  terminal: (
    <>
      <rect x="2" y="3" width="12" height="10" rx="1.5" />
      <path d="M5 6.5 7 8.3 5 10M8.5 10H11" />
    </>
  ),
  key: (
    <>
      <circle cx="5.5" cy="10.5" r="2.5" />
      <path d="M7.3 8.7 13 3M11 5l1.5 1.5M9.5 6.5 11 8" />
    </>
  ),
  menu: <path d="M2.5 4h11M2.5 8h11M2.5 12h11" />,
  edit: <path d="M10.5 2.5l3 3L6 13H3v-3z" />,
};

export type IconName = keyof typeof paths;

export function Icon({ name, size = 16 }: { name: IconName; size?: number }) {
  return (
    <svg
      width={size}
      height={size}
      viewBox="0 0 16 16"
      fill="none"
      stroke="currentColor"
      strokeWidth="1.5"
      strokeLinecap="round"
      strokeLinejoin="round"
      aria-hidden="true"
    >
      {paths[name]}
    </svg>
  );
}

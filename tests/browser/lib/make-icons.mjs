// Renders the page's app icons (web/icons/*.png) from their SVGs with
// Debian's chromium. The PNGs are committed; run this again after changing
// an SVG: node tests/browser/lib/make-icons.mjs
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web/icons');
const ICONS = [
  ['icon.svg', 'icon-192.png', 192],
  ['icon.svg', 'icon-512.png', 512],
  ['icon-maskable.svg', 'icon-maskable-512.png', 512],
];

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium' });
try {
  for (const [svg, png, size] of ICONS) {
    const page = await browser.newPage({ viewport: { width: size, height: size } });
    const markup = readFileSync(path.join(here, svg), 'utf8');
    await page.setContent(`<style>html,body{margin:0;background:transparent}svg{width:${size}px;height:${size}px;display:block}</style>${markup}`);
    await page.screenshot({ path: path.join(here, png), omitBackground: true });
    await page.close();
  }
} finally {
  await browser.close();
}

// Regenerates crates/switchboard/web/jssip.min.js, the JsSIP the console page loads. JsSIP on
// npm ships CommonJS only (no browser bundle since 3.11), so the console vendors this minified
// browser build of the pinned version (package-lock.json) and the server embeds it: the page
// needs no build step and no network on a fresh machine. The licences of JsSIP and of the
// packages bundled with it (all MIT) head the file. Run after bumping jssip:
//   node tests/browser/vendor_jssip.js
'use strict';

const fs = require('fs');
const path = require('path');

const OUT = path.resolve(__dirname, '../../crates/switchboard/web/jssip.min.js');
const BUNDLED = ['jssip', 'debug', 'ms', 'events', 'sdp-transform'];

function licence(name) {
  const dir = path.dirname(require.resolve(`${name}/package.json`));
  const pkg = require(`${name}/package.json`);
  const file = fs.readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
  const text = file ? fs.readFileSync(path.join(dir, file), 'utf8').trim() : `License: ${pkg.license}`;
  return `${pkg.name} ${pkg.version} (${pkg.license})\n\n${text}`;
}

function main() {
  const version = require('jssip/package.json').version;
  const banner =
    `/*! JsSIP ${version} browser build for the Switchboard agent console (global \`JsSIP\`),\n` +
    ' * bundled and minified with esbuild by tests/browser/vendor_jssip.js.\n *\n' +
    BUNDLED.map(licence)
      .join('\n\n----\n\n')
      .split('\n')
      .map((l) => ` * ${l}`.trimEnd())
      .join('\n') +
    '\n */';
  const out = require('esbuild').buildSync({
    entryPoints: [require.resolve('jssip')],
    bundle: true,
    minify: true,
    format: 'iife',
    globalName: 'JsSIP',
    platform: 'browser',
    legalComments: 'none',
    banner: { js: banner },
    write: false,
    logLevel: 'warning',
  });
  fs.writeFileSync(OUT, out.outputFiles[0].text);
  console.log(`wrote ${OUT} (JsSIP ${version}, ${out.outputFiles[0].text.length} bytes)`);
}

main();

// Preloaded into a CLI run (`node --import ./bench/inspect-big.hook.mjs bin/mcore-export.js ...`): at exit,
// prints the process's own I/O counters (/proc/self/io: rchar = bytes read by read()/pread() calls, cached or
// not) and its lifetime, as one `@@io {...}` line on stderr, so a test can see how much of a file was read.
import { readFileSync, writeSync } from 'node:fs';

process.on('exit', () => {
  const io = {};
  for (const line of readFileSync('/proc/self/io', 'utf8').trim().split('\n')) {
    const [k, v] = line.split(':');
    io[k.trim()] = Number(v);
  }
  io.uptime_ms = Math.round(process.uptime() * 1000);
  writeSync(2, `\n@@io ${JSON.stringify(io)}\n`);
});

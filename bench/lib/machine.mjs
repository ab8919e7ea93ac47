// The machine a run was measured on, for the head of each BENCHMARKS.md section.
//
//   const info = machineInfo()   // { date, cpu, cores, parallelism, memoryGB, os, node, sharp, vips, ... }
//   machineMarkdown(info)        // a markdown bullet list
import { createRequire } from 'node:module'
import os from 'node:os'

const require = createRequire(import.meta.url)

/** CPU, cores, memory, OS, Node and the sharp/libvips versions (sharp as resolved from bench/). */
export function machineInfo() {
  const sharp = require('sharp')
  const v = sharp.versions
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    parallelism: os.availableParallelism(),
    memoryGB: os.totalmem() / 2 ** 30,
    os: `${os.platform()} ${os.release()}`,
    node: process.version,
    sharp: v.sharp,
    vips: v.vips,
    aom: v.aom,
    uvThreadpool: process.env.UV_THREADPOOL_SIZE ?? 'unset (4)',
    load: os.loadavg().map((l) => l.toFixed(2)),
  }
}

/** The machine as a markdown bullet list. */
export function machineMarkdown(info = machineInfo()) {
  return [
    `- Date: ${info.date}`,
    `- CPU: ${info.cpu}, ${info.cores} cores (os.availableParallelism() = ${info.parallelism}), ${info.memoryGB.toFixed(1)} GB memory, ${info.os}; shared with other work`,
    `- Node ${info.node}; sharp ${info.sharp}, libvips ${info.vips}, libaom ${info.aom}; UV_THREADPOOL_SIZE ${info.uvThreadpool}`,
    `- Load average at start: ${info.load.join(', ')}`,
  ].join('\n')
}

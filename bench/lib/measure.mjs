// Whole-process measurement of a child process: wall (from the parent, so process start is
// included), CPU (user + system) and peak RSS.
//
//   const m = await measureProcess(process.execPath, ['script.mjs'], { cwd, env })
//   // m = { wallMs, cpuMs, userMs, sysMs, peakRssMB, code, signal, stdout, stderr, via }
//
// CPU and peak RSS come from GNU time (`/usr/bin/time -f ... -o file`) when it is installed: the
// kernel's rusage of the child when it is reaped, so CPU includes the descendants it waited for
// and peak RSS is the largest single process of the tree (ru_maxrss), not a sum. Without it, the
// parent samples /proc/<pid>/status (VmHWM, the process's own high-water mark, which survives no
// exec) and /proc/<pid>/stat every 10 ms; the last sample before exit is then the figure (a peak
// in the last 10 ms could be missed: `via` says which method was used).
//
// Why not `process.resourceUsage().maxRSS` inside the child: on Linux it survives exec, so a child
// reports its parent's peak when that is higher.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'

const GNU_TIME = '/usr/bin/time'
const hasGnuTime = existsSync(GNU_TIME)
const TICK_MS = 1000 / 100 // USER_HZ on Linux

/**
 * Runs `command args` to completion and measures it. Never rejects on a non-zero exit: check `code`.
 * `stdout: 'ignore'` avoids buffering large outputs. `timeoutMs` kills a run that hangs.
 * `onSpawn(pid)` gets the measured process's id (not GNU time's): see `cpuMsOf`.
 */
export async function measureProcess(
  command,
  args,
  { cwd, env, stdout = 'pipe', timeoutMs = 600_000, onSpawn } = {},
) {
  const tmp = hasGnuTime ? await mkdtemp(join(os.tmpdir(), 'flux-bench-time-')) : undefined
  const timeFile = tmp && join(tmp, 'time.txt')
  const [file, argv] = hasGnuTime
    ? [GNU_TIME, ['-f', '%e %U %S %M', '-o', timeFile, command, ...args]]
    : [command, args]
  const started = performance.now()
  const child = spawn(file, argv, { cwd, env, stdio: ['ignore', stdout, 'pipe'] })
  if (onSpawn) onSpawn(hasGnuTime ? await childOf(child.pid) : child.pid)
  let out = ''
  let err = ''
  child.stdout?.on('data', (c) => {
    out += c
  })
  child.stderr?.on('data', (c) => {
    err += c
  })
  const sampled = { hwmKB: 0, ticks: 0 }
  const sampler = hasGnuTime ? undefined : setInterval(() => sample(child.pid, sampled), 10)
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const { code, signal } = await new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal }))
  })
  const wallMs = performance.now() - started
  clearTimeout(timer)
  if (sampler) clearInterval(sampler)
  let userMs
  let sysMs
  let peakRssMB
  let via
  if (timeFile) {
    const text = (await readFile(timeFile, 'utf8').catch(() => '')).trim().split('\n').pop() ?? ''
    const [, user, sys, maxKB] = text.split(' ').map(Number)
    userMs = user * 1000
    sysMs = sys * 1000
    peakRssMB = maxKB / 1024
    via = 'GNU time (rusage)'
    await rm(tmp, { recursive: true, force: true })
  } else {
    userMs = sampled.ticks * TICK_MS
    sysMs = 0
    peakRssMB = sampled.hwmKB / 1024
    via = '/proc sampling (10 ms)'
  }
  return {
    wallMs,
    cpuMs: userMs + sysMs,
    userMs,
    sysMs,
    peakRssMB,
    code,
    signal,
    stdout: out,
    stderr: err,
    via,
  }
}

/** The first child of `pid` (the command GNU time runs), once it exists. */
async function childOf(pid) {
  for (;;) {
    try {
      const first = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0]
      if (first) return Number(first)
    } catch {
      return undefined
    }
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

/** The CPU time (user + system, 10 ms ticks) a running process has used so far, or NaN once it is gone. */
export function cpuMsOf(pid) {
  const into = { hwmKB: 0, ticks: 0 }
  sample(pid, into)
  return into.hwmKB > 0 ? into.ticks * TICK_MS : Number.NaN
}

function sample(pid, into) {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    if (hwm) into.hwmKB = Math.max(into.hwmKB, Number(hwm[1]))
    // Fields 14 and 15 (utime, stime) after the command name, which may hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    into.ticks = Math.max(into.ticks, Number(fields[11]) + Number(fields[12]))
  } catch {
    // Exited between samples.
  }
}

/** Throws with the child's stderr when a measured run failed: a failed run is not a figure. */
export function assertOk(m, what) {
  if (m.code === 0) return m
  throw new Error(`${what} exited with ${m.code ?? m.signal}:\n${m.stderr.slice(-4000)}`)
}

/** This process's own peak RSS in MiB (VmHWM; see the header for why not maxRSS). */
export function ownPeakRssMB() {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))
    if (hwm) return Number(hwm[1]) / 1024
  } catch {}
  return process.resourceUsage().maxRSS / 1024
}

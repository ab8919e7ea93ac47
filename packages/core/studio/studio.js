// The flux-images studio page. It reads (GET, this server's own pages only) and acts over the dev
// server's HMR socket only (Vite checks its token), each action carrying the secret this page was
// served with. A socket of its own, not Vite's client: pages reload when images change, this one
// must not lose what it is doing.
const BASE = '%BASE%'
const meta = (name) => document.querySelector(`meta[name="${name}"]`).content
const TOKEN = meta('flux-studio')
const given = readHash()
const widths = new Map(given.images.map((image) => [image.url, image.width]))
const pending = new Map()
const queue = []
let sent = 0
let socket

function readHash() {
  try {
    const state = JSON.parse(decodeURIComponent(location.hash.slice(1)))
    if (Array.isArray(state.images)) return state
  } catch {}
  return { page: undefined, images: [] }
}

function connect() {
  const protocol = location.protocol === 'https:' ? 'wss' : 'ws'
  socket = new WebSocket(`${protocol}://${location.host}${meta('flux-hmr')}`, 'vite-hmr')
  socket.onopen = () => {
    for (const message of queue.splice(0)) socket.send(message)
  }
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data)
    if (message.type !== 'custom' || message.event !== 'flux:studio') return
    pending.get(message.data.id)?.(message.data)
    pending.delete(message.data.id)
  }
  socket.onclose = () => setTimeout(connect, 1000)
}

function send(data) {
  const message = JSON.stringify({ type: 'custom', event: 'flux:studio', data })
  if (socket.readyState === WebSocket.OPEN) socket.send(message)
  else queue.push(message)
}

/** Sends one action; asks the person again when it would pass the session's budget. */
async function act(action) {
  say('Working…')
  const id = ++sent
  const reply = await new Promise((done) => {
    pending.set(id, done)
    send({ id, token: TOKEN, action })
  })
  if (reply.confirm) {
    if (window.confirm(reply.confirm)) return act({ ...action, confirm: true })
    say('Nothing spent.')
    return reply
  }
  say(reply.error ?? reply.message, Boolean(reply.error))
  await load()
  return reply
}

function say(text, error = false) {
  const message = document.getElementById('message')
  message.textContent = text ?? ''
  message.className = error ? 'error' : ''
}

function el(tag, { dataset = {}, ...props } = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props)
  Object.assign(node.dataset, dataset)
  node.append(...children.filter((c) => c !== undefined))
  return node
}

const usd = (n) => `$${n.toFixed(3)}`
const where = (loc) => `${loc.file}:${loc.line}`

function showState(state) {
  document.getElementById('budget').textContent =
    `This session has paid for ${state.spent} of its ${state.budget} generations (devBudget); past it, each action asks again.` +
    (state.paused ? ' The server listens beyond this machine: nothing spends (allowNetworkDev).' : '')
  const held = document.getElementById('held')
  held.hidden = !state.held
  if (!state.held) return
  document.getElementById('held-text').textContent =
    `${state.held.count} images are missing, more than the dev server generates on its own; pages show placeholders.`
  const generate = document.getElementById('generate')
  generate.textContent = `Generate ${state.held.count} images (est. ${usd(state.held.cost)})`
  generate.onclick = () => act({ type: 'generate' })
  document
    .getElementById('held-list')
    .replaceChildren(
      ...state.held.items.map((item) =>
        el('li', { textContent: `${item.location ? `${where(item.location)}: ` : ''}${item.prompt}` }),
      ),
    )
}

function card(image, shownWidth) {
  const editor = el('a', {
    href: `/__open-in-editor?file=${encodeURIComponent(image.editor)}`,
    textContent: where(image.location),
    title: 'Open in editor',
  })
  editor.addEventListener('click', (event) => {
    event.preventDefault()
    fetch(editor.href)
  })
  const prompt = el('textarea', { rows: 2, value: image.prompt, name: 'prompt' })
  const save = el('button', { type: 'button', textContent: 'Save prompt', name: 'save' })
  save.onclick = () =>
    act({
      type: 'edit',
      key: image.key,
      file: image.location.file,
      line: image.location.line,
      prompt: prompt.value,
    })
  const count = el('input', { type: 'number', min: 1, max: 8, value: 3, name: 'count' })
  const reroll = el('button', { type: 'button', name: 'reroll' })
  const label = () => {
    reroll.textContent = `Re-roll ${count.value} (est. ${usd(image.price * Number(count.value || 0))})`
  }
  count.oninput = label
  label()
  reroll.onclick = () => act({ type: 'reroll', key: image.key, count: Number(count.value) })
  const figures = image.candidates.map((candidate) => {
    const img = el('img', {
      src: `${BASE}__flux/original/${candidate.key}`,
      alt: `Candidate ${candidate.number}`,
    })
    if (shownWidth) img.style.width = `${shownWidth}px`
    const choose = el('button', {
      type: 'button',
      name: 'pick',
      textContent: candidate.number === 0 ? 'Go back to it' : 'Pick',
      disabled: candidate.shown,
    })
    choose.onclick = () => act({ type: 'pick', key: image.key, candidate: candidate.number })
    const caption = el(
      'figcaption',
      {},
      el('span', { textContent: candidate.number === 0 ? 'Its own (0)' : `Candidate ${candidate.number}` }),
      candidate.shown ? el('strong', { textContent: 'shown' }) : choose,
    )
    return el(
      'figure',
      { className: candidate.shown ? 'shown' : '', dataset: { candidate: candidate.number } },
      img,
      caption,
    )
  })
  const facts = [
    ['Prompt sent', image.sent],
    ['Model', image.model],
    ['Size', `${image.size} (${image.quality})`],
    ['Status', image.status],
    ['Cost so far', `${usd(image.cost)} (est.)`],
  ]
  return el(
    'article',
    { dataset: { key: image.key } },
    el(
      'header',
      {},
      editor,
      el('span', { textContent: image.locations.length > 1 ? `and ${image.locations.length - 1} more` : '' }),
    ),
    prompt,
    el('div', { className: 'actions' }, save),
    el(
      'dl',
      {},
      ...facts.flatMap(([name, value]) => [
        el('dt', { textContent: name }),
        el('dd', { textContent: value }),
      ]),
    ),
    el('div', { className: 'actions' }, count, reroll),
    el('div', { className: 'candidates' }, ...figures),
  )
}

async function load() {
  const query = given.images.map((image) => `url=${encodeURIComponent(image.url)}`).join('&')
  const response = await fetch(`${BASE}__flux/images?${query}`, { cache: 'no-store' })
  const { state, images } = await response.json()
  showState(state)
  document.getElementById('page').textContent = given.page
    ? `${images.length} image(s) on ${given.page}`
    : 'Open the studio from a page (its flux button) to see that page’s images.'
  const shownWidth = (image) => Math.max(0, ...image.urls.map((url) => widths.get(url) ?? 0))
  document.getElementById('images').replaceChildren(...images.map((image) => card(image, shownWidth(image))))
  document.body.dataset.loaded = String(Number(document.body.dataset.loaded ?? 0) + 1)
}

// Opened again for another page (Astro's toolbar sets a new hash): read it from the start.
window.addEventListener('hashchange', () => location.reload())
connect()
load()

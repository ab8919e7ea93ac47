import kite from 'flux:A red kite over sand dunes, blue sky'

const img = document.createElement('img')
img.src = kite.src
img.width = kite.width
img.height = kite.height
img.alt = 'A kite'
document.querySelector('#app')?.append(img)

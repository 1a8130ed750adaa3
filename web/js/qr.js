// Draws the safety number's QR code on a canvas with qrcode-generator (MIT, served from the
// bundle's vendor/ folder, no CDN). The payload is the core's 65 comparison bytes.
import qrcode from '../vendor/qrcode.mjs';

export function drawQr(canvas, bytes) {
  const qr = qrcode(0, 'M');
  // Byte mode: each char code below 256 is one byte.
  qr.addData(String.fromCharCode(...bytes), 'Byte');
  qr.make();
  const count = qr.getModuleCount();
  const margin = 4;
  const cell = Math.floor(canvas.width / (count + 2 * margin));
  const offset = Math.floor((canvas.width - cell * count) / 2);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = '#000000';
  for (let r = 0; r < count; r += 1) {
    for (let c = 0; c < count; c += 1) {
      if (qr.isDark(r, c)) ctx.fillRect(offset + c * cell, offset + r * cell, cell, cell);
    }
  }
  canvas.dataset.modules = String(count);
}

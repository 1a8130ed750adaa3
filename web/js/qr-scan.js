// Reading a QR code from the camera (invite and reply codes, docs/PROTOCOL.md 17): the rear camera
// when there is one, its picture in a <video>, frames read about every 150 ms until one holds a
// code. The browser's BarcodeDetector reads them where it has one for QR codes; elsewhere the
// decoder of qr-scan-decoder.js, imported on the first scan only, so the app shell does not carry
// it (scripts/bundle.mjs keeps it a file of its own).

/** Whether this browser can use a camera at all (the Scan buttons are shown only then). */
export const canScan = () => Boolean(globalThis.navigator?.mediaDevices?.getUserMedia);

const PERIOD_MS = 150;
const MAX_SIDE = 1280; // frames larger than this are read scaled down

/** A camera failure in plain words, for the person. */
export class ScanError extends Error {}

function cameraError(e) {
  switch (e?.name) {
    case 'NotFoundError':
    case 'OverconstrainedError':
    case 'DevicesNotFoundError':
      return new ScanError('No camera was found.');
    case 'NotAllowedError':
    case 'SecurityError':
    case 'PermissionDeniedError':
      return new ScanError('Camera access was refused. Allow the camera for this site to scan a code, or paste the code instead.');
    case 'NotReadableError':
    case 'TrackStartError':
      return new ScanError('The camera is in use by another program.');
    default:
      return new ScanError('The camera could not be started. Paste the code instead.');
  }
}

/** The reader of frames: BarcodeDetector for QR codes when the browser has it, else our decoder. */
async function frameReader() {
  const BD = globalThis.BarcodeDetector;
  if (BD) {
    try {
      if ((await BD.getSupportedFormats()).includes('qr_code')) {
        const detector = new BD({ formats: ['qr_code'] });
        return async (video) => (await detector.detect(video))[0]?.rawValue || null;
      }
    } catch {
      // fall through to our decoder
    }
  }
  const { decodeQr } = await import('./qr-scan-decoder.js');
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  return async (video) => {
    const w = video.videoWidth;
    const h = video.videoHeight;
    if (!w || !h) return null;
    const k = Math.min(1, MAX_SIDE / Math.max(w, h));
    canvas.width = Math.round(w * k);
    canvas.height = Math.round(h * k);
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    return decodeQr(ctx.getImageData(0, 0, canvas.width, canvas.height));
  };
}

/**
 * Scans with the camera into `video` until a code is read: `onText(text)` is called once with it
 * (the camera already stopped). stop() ends it at any time; start() rejects with a ScanError.
 */
export class Scanner {
  constructor(video) {
    this.video = video;
    this.stream = null;
    this.timer = null;
    this.run = 0; // each start() a new run; a late frame of an old one is ignored
  }

  get active() {
    return this.stream !== null;
  }

  async start(onText) {
    this.stop();
    const run = ++this.run;
    let stream;
    try {
      // 1280x720 where the camera has it: a 1,000-character code has 121 modules a side, which
      // want 3 pixels or more each.
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: false,
      });
    } catch (e) {
      throw cameraError(e);
    }
    if (run !== this.run) {
      for (const t of stream.getTracks()) t.stop();
      return;
    }
    this.stream = stream;
    this.video.srcObject = stream;
    try {
      await this.video.play();
    } catch {
      // a muted inline video plays; if not, frames still arrive for reading
    }
    let read;
    try {
      read = await frameReader();
    } catch {
      if (run === this.run) this.stop();
      throw new ScanError('The code reader could not be loaded. Reload the page, or paste the code instead.');
    }
    const tick = async () => {
      if (run !== this.run) return;
      let text = null;
      try {
        if (this.video.readyState >= 2) text = await read(this.video);
      } catch {
        text = null; // a frame that cannot be read: the next one may
      }
      if (run !== this.run) return;
      if (text) {
        this.stop();
        onText(text);
        return;
      }
      this.timer = setTimeout(tick, PERIOD_MS);
    };
    tick();
  }

  stop() {
    this.run += 1;
    clearTimeout(this.timer);
    this.timer = null;
    if (this.stream) for (const t of this.stream.getTracks()) t.stop();
    this.stream = null;
    this.video.srcObject = null;
  }
}

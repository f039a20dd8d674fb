// The camera reader the greenpass pages share (/check, /counter): it opens
// the rear camera, sends the middle of a frame to the verify API at most
// four times a second, and hands each answer to the page until the page
// says it has what it wanted. No third-party code.
"use strict";

window.GreenpassScanner = (() => {
  // The code is held inside the frame in the middle of the view: only the
  // middle 80 % of the picture is sent, at most 800 pixels wide — 40 % of
  // a 1280×720 frame's pixels, and so of the server's decoding — while a
  // code a third of the frame high still has 2 pixels per module.
  const CROP = 0.8;
  const MAX_SIDE = 800;
  const MIN_INTERVAL = 250; // at most four frames a second

  // create returns a reader for the video element. send(blob) posts one
  // frame and resolves to true when the page is done (a result is shown).
  function create(video, send) {
    const canvas = document.createElement("canvas");
    let running = false;

    function frameBlob() {
      const w = video.videoWidth, h = video.videoHeight;
      if (!w || !h) return Promise.resolve(null);
      const cw = Math.round(w * CROP), ch = Math.round(h * CROP);
      const scale = Math.min(1, MAX_SIDE / Math.max(cw, ch));
      canvas.width = Math.round(cw * scale);
      canvas.height = Math.round(ch * scale);
      canvas.getContext("2d").drawImage(video, (w - cw) / 2, (h - ch) / 2, cw, ch, 0, 0, canvas.width, canvas.height);
      return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
    }

    async function loop(onError) {
      while (running) {
        const started = performance.now();
        try {
          const blob = await frameBlob();
          if (blob && running && await send(blob)) { running = false; break; }
        } catch (err) {
          if (onError) onError(err);
        }
        const wait = Math.max(0, MIN_INTERVAL - (performance.now() - started));
        await new Promise((res) => setTimeout(res, wait));
      }
    }

    return {
      // open starts the camera and resolves at its first frame (a camera
      // can open and still send nothing: a blocked sensor, a virtual device).
      async open() {
        if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new Error("no camera API");
        const stream = await navigator.mediaDevices.getUserMedia({
          audio: false,
          video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
        });
        video.srcObject = stream;
        await video.play();
        while (!video.videoWidth) await new Promise((res) => setTimeout(res, 100));
      },
      start(onError) {
        if (!running && video.srcObject) { running = true; loop(onError); }
      },
      stop() { running = false; },
      // close stops the camera itself (its light goes off).
      close() {
        running = false;
        const s = video.srcObject;
        if (s) s.getTracks().forEach((tr) => tr.stop());
        video.srcObject = null;
      },
      get running() { return running; },
    };
  }
  return { create };
})();

// greenpass checkpoint: reads QR codes with the rear camera, asks the
// verify API, shows green or red. No third-party code; everything is served
// by the greenpass binary.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const country = (params.get("country") || "").toUpperCase();

  const texts = {
    en: {
      title: "Certificate check", hint: "Hold the QR code inside the frame", name: "Name",
      dob: "Date of birth", type: "Certificate", next: "Scan next", photo: "Take a photo",
      nocamera: "The camera is not available. Take a photo of the QR code instead.",
      keylabel: "Checkpoint key", keysave: "Save", valid: "VALID", invalid: "NOT VALID", rules: "Entry rules of",
      checking: "Checking…", busy: "The service is busy, trying again…", offline: "No connection to the service",
      types: { v: "Vaccination", t: "Test", r: "Recovery" },
      reasons: {
        SIGNATURE_INVALID: "The signature is not valid: the certificate was altered or forged.",
        DSC_UNKNOWN: "The issuer is not trusted (unknown signing key).",
        ALG_KEY_MISMATCH: "The signature does not fit the issuer's key.",
        KEY_USAGE_MISMATCH: "This issuer may not issue this type of certificate.",
        CERT_EXPIRED: "The certificate has expired.",
        CERT_NOT_YET_VALID: "The certificate is not valid yet.",
        DSC_EXPIRED: "The issuer's signing key has expired.",
        DSC_NOT_YET_VALID: "The issuer's signing key is not valid yet.",
        ISSUED_BEFORE_DSC: "The certificate was issued before its signing key was valid.",
        EXPIRES_AFTER_DSC: "The certificate outlives its signing key.",
        REVOKED: "The certificate has been revoked.",
        RULE_FAILED: "The entry rules are not met:",
        RULE_OPEN: "The entry rules could not be checked.",
        SCHEMA_INVALID: "The certificate's data is malformed.",
        MULTIPLE_DCCS: "Two different certificates in view: show one at a time.",
        other: "The QR code is not a valid EU Digital COVID Certificate.",
      },
    },
    de: {
      title: "Zertifikatsprüfung", hint: "QR-Code in den Rahmen halten", name: "Name",
      dob: "Geburtsdatum", type: "Zertifikat", next: "Nächstes prüfen", photo: "Foto aufnehmen",
      nocamera: "Die Kamera ist nicht verfügbar. Bitte ein Foto des QR-Codes aufnehmen.",
      keylabel: "Schlüssel der Prüfstelle", keysave: "Speichern", valid: "GÜLTIG", invalid: "NICHT GÜLTIG", rules: "Einreiseregeln von",
      checking: "Wird geprüft…", busy: "Der Dienst ist ausgelastet, neuer Versuch…", offline: "Keine Verbindung zum Dienst",
      types: { v: "Impfung", t: "Test", r: "Genesung" },
      reasons: {
        SIGNATURE_INVALID: "Die Signatur ist ungültig: das Zertifikat wurde verändert oder gefälscht.",
        DSC_UNKNOWN: "Der Aussteller ist nicht vertrauenswürdig (unbekannter Signaturschlüssel).",
        ALG_KEY_MISMATCH: "Die Signatur passt nicht zum Schlüssel des Ausstellers.",
        KEY_USAGE_MISMATCH: "Dieser Aussteller darf diese Art Zertifikat nicht ausstellen.",
        CERT_EXPIRED: "Das Zertifikat ist abgelaufen.",
        CERT_NOT_YET_VALID: "Das Zertifikat ist noch nicht gültig.",
        DSC_EXPIRED: "Der Signaturschlüssel des Ausstellers ist abgelaufen.",
        DSC_NOT_YET_VALID: "Der Signaturschlüssel des Ausstellers ist noch nicht gültig.",
        ISSUED_BEFORE_DSC: "Das Zertifikat wurde vor Gültigkeit seines Signaturschlüssels ausgestellt.",
        EXPIRES_AFTER_DSC: "Das Zertifikat gilt länger als sein Signaturschlüssel.",
        REVOKED: "Das Zertifikat wurde widerrufen.",
        RULE_FAILED: "Die Einreiseregeln sind nicht erfüllt:",
        RULE_OPEN: "Die Einreiseregeln konnten nicht geprüft werden.",
        SCHEMA_INVALID: "Die Daten des Zertifikats sind fehlerhaft.",
        MULTIPLE_DCCS: "Zwei verschiedene Zertifikate im Bild: bitte einzeln zeigen.",
        other: "Der QR-Code ist kein gültiges digitales COVID-Zertifikat der EU.",
      },
    },
  };
  let lang = (localStorage.getItem("lang") || navigator.language || "en").slice(0, 2) === "de" ? "de" : "en";
  const t = () => texts[lang];

  function applyLanguage() {
    document.documentElement.lang = lang;
    for (const el of document.querySelectorAll("[data-i18n]")) {
      const s = t()[el.dataset.i18n];
      if (typeof s === "string") el.textContent = s;
    }
    $("lang").textContent = lang === "de" ? "EN" : "DE";
    // Which country's entry rules apply, when the page was opened with one.
    $("rules").hidden = !/^[A-Z]{2}$/.test(country);
    $("rules").textContent = t().rules + " " + country;
  }

  const state = (s) => { document.body.dataset.state = s; };
  const status = (s) => { $("status").textContent = s || ""; };

  // --- talking to the API -------------------------------------------------
  // A camera frame is sent with live=1: the server looks briefly, the next
  // frame is the retry. A photo gets the whole search.
  const apiURL = (live) => {
    const q = new URLSearchParams();
    if (country) q.set("country", country);
    if (live) q.set("live", "1");
    const s = q.toString();
    return "/api/v1/verify" + (s ? "?" + s : "");
  };
  async function verify(blob, live) {
    const headers = { "Content-Type": blob.type || "image/jpeg" };
    const key = localStorage.getItem("checkpointKey");
    if (key) headers["X-Checkpoint-Key"] = key;
    const resp = await fetch(apiURL(live), { method: "POST", body: blob, headers, cache: "no-store" });
    if (resp.status === 401) { askKey(); return null; }
    if (resp.status === 503 || resp.status === 429) { status(t().busy); return null; }
    if (!resp.ok) { status((await resp.json().catch(() => ({}))).error || resp.statusText); return null; }
    status("");
    return resp.json();
  }

  function askKey() {
    stopLoop();
    $("keyform").hidden = false;
    $("key-input").focus();
  }
  $("key").addEventListener("submit", (e) => {
    e.preventDefault();
    localStorage.setItem("checkpointKey", $("key-input").value);
    $("keyform").hidden = true;
    startLoop();
  });

  // --- showing a result ---------------------------------------------------
  function reasonText(r) {
    const reasons = r.reasons || [];
    const first = reasons.find((x) => x.stage !== "picture") || reasons[0];
    if (!first) return "";
    const words = t().reasons[first.code] || t().reasons.other;
    if (first.code === "RULE_FAILED") {
      const rules = reasons.filter((x) => x.code === "RULE_FAILED").map((x) => x.message);
      return words + " " + rules.join("; ");
    }
    return words;
  }

  let shownTimer = null;
  function show(r) {
    const valid = r.valid === true;
    state(valid ? "valid" : "invalid");
    const p = r.payload || {};
    const n = p.nam || {};
    $("verdict").textContent = valid ? t().valid : t().invalid;
    $("r-name").textContent = [n.fn || n.fnt, n.gn || n.gnt].filter(Boolean).join(", ") || "–";
    $("r-dob").textContent = p.dob || "–";
    $("r-type").textContent = t().types[r.type] || "–";
    $("r-reason").textContent = valid ? "" : reasonText(r);
    $("result").hidden = false;
    $("next").focus();
    clearTimeout(shownTimer);
    shownTimer = setTimeout(next, 15000);
  }
  function next() {
    clearTimeout(shownTimer);
    $("result").hidden = true;
    state("scanning");
    startLoop();
  }
  $("next").addEventListener("click", next);
  $("result").addEventListener("click", (e) => { if (e.target === $("result")) next(); });

  // A result is shown when a certificate was found; frames without a code
  // (the camera still searching) only keep the scanner running.
  function handle(r) {
    if (!r) return false;
    const pictureFailed = r.stages && r.stages.picture === "fail";
    const onlyNoCode = pictureFailed && (r.reasons || []).every((x) => x.code === "QR_NOT_FOUND" || x.code === "IMAGE_UNREADABLE");
    if (onlyNoCode) return false;
    show(r);
    return true;
  }

  // --- the camera loop (scan.js) -------------------------------------------
  const video = $("video");
  const scanner = GreenpassScanner.create(video, async (blob) => handle(await verify(blob, true)));
  function startLoop() { if (!scanner.running && video.srcObject) { state("scanning"); scanner.start(() => status(t().offline)); } }
  function stopLoop() { scanner.stop(); }
  const startCamera = () => scanner.open();

  // Until the first frame arrives the page offers the photo button: after
  // CAMERA_WAIT without one it says the camera is not available (a
  // permission prompt may still be open; a camera that starts later takes
  // over again).
  const CAMERA_WAIT = 6000;
  function showNoCamera() {
    $("scanner").hidden = true;
    $("nocamera").hidden = false;
    state("nocamera");
  }

  // --- the photo fallback -------------------------------------------------
  $("file").addEventListener("change", async () => {
    const f = $("file").files[0];
    if (!f) return;
    stopLoop();
    status(t().checking);
    try {
      const r = await verify(f, false);
      if (r) show(r);
    } catch (err) {
      status(t().offline);
    }
    $("file").value = "";
  });

  $("lang").addEventListener("click", () => {
    lang = lang === "de" ? "en" : "de";
    localStorage.setItem("lang", lang);
    applyLanguage();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) stopLoop(); else if ($("result").hidden) startLoop();
  });

  applyLanguage();
  const watchdog = setTimeout(showNoCamera, CAMERA_WAIT);
  startCamera().then(() => {
    clearTimeout(watchdog);
    $("nocamera").hidden = true;
    $("scanner").hidden = false;
    startLoop();
  }).catch(() => {
    clearTimeout(watchdog);
    showNoCamera();
  });
})();

// greenpass counter: a pharmacy issues vaccination, test and recovery
// certificates with its issuer token. Keyboard first: every field is
// reachable with Tab, Enter issues. No third-party code, nothing from
// elsewhere; the only things kept in the browser are the token and the
// language — never a name.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  const texts = {
    en: {
      title: "Certificates", signout: "Sign out", tokenLabel: "Issuer token (from your administrator)",
      signinButton: "Sign in", tokenRefused: "The token was not accepted (expired, or for another server).",
      scan: "Scan previous certificate", upload: "Photo or PDF of previous certificate", close: "Close camera",
      fn: "Family name", gn: "Given name(s)", onCertificate: "On the certificate:", dob: "Date of birth",
      dobHint: "26.02.1998, 1998-02-26, 1998", mp: "Vaccine", dose: "Dose (n/m)", dt: "Date of vaccination",
      more: "Manufacturer, vaccine type, country", ma: "Manufacturer", vp: "Vaccine type", coV: "Country of vaccination",
      tt: "Test", tr: "Result", device: "Rapid test (device)", nm: "Test name", sc: "Sample taken",
      tc: "Test centre", coT: "Country of test", fr: "First positive test", df: "Valid from", du: "Valid until",
      issue: "Issue certificate", issued: "Certificate issued", print: "Print", pdf: "PDF", next: "Next person",
      today: "My certificates today", colTime: "Time", colType: "Type", todayEmpty: "None yet.",
      revoke: "Revoke", revokeSure: "Really revoke?", revoked: "revoked",
      types: { v: "Vaccination", t: "Test", r: "Recovery" },
      issuing: "Issuing…", retrying: (why, s, n) => `${why} — trying again in ${s} s (attempt ${n}); the same request, no second certificate.`,
      busy: "The server is busy", offline: "No connection", serverError: "Server error",
      gaveUp: "No answer. Press “Issue certificate” again: it stays one certificate.",
      notDate: "Not a date (e.g. 26.02.1998)", notDateTime: "Not a date and time (e.g. 05.12.2026 09:35)",
      notDose: "Dose as n/m, e.g. 2/2", notInList: "Pick from the list", required: "Required",
      checkFields: "Please check the marked fields.", reading: "Reading the certificate…",
      noCode: "No certificate found in the picture.", noCamera: "The camera is not available; use a photo instead.",
      prefilled: (what) => `Filled in from the previous certificate${what}: please check and confirm.`,
      prefillInvalid: (why) => `Careful: the scanned certificate is NOT valid (${why}). Check the data against an ID.`,
      notAllowed: "This token may not issue certificates.", signinAgain: "Please sign in again.",
      reasons: { REVOKED: "revoked", CERT_EXPIRED: "expired", SIGNATURE_INVALID: "signature not valid: altered or forged",
        DSC_UNKNOWN: "issuer not trusted", CERT_NOT_YET_VALID: "not valid yet", KEY_USAGE_MISMATCH: "issuer may not issue this type" },
    },
    de: {
      title: "Zertifikate", signout: "Abmelden", tokenLabel: "Aussteller-Token (von Ihrer Verwaltung)",
      signinButton: "Anmelden", tokenRefused: "Das Token wurde nicht angenommen (abgelaufen oder für einen anderen Server).",
      scan: "Vorheriges Zertifikat scannen", upload: "Foto oder PDF des vorherigen Zertifikats", close: "Kamera schließen",
      fn: "Nachname", gn: "Vorname(n)", onCertificate: "Im Zertifikat:", dob: "Geburtsdatum",
      dobHint: "26.02.1998, 1998-02-26, 1998", mp: "Impfstoff", dose: "Dosis (n/m)", dt: "Impfdatum",
      more: "Hersteller, Impfstofftyp, Land", ma: "Hersteller", vp: "Impfstofftyp", coV: "Land der Impfung",
      tt: "Test", tr: "Ergebnis", device: "Schnelltest (Produkt)", nm: "Testname", sc: "Probenahme",
      tc: "Testzentrum", coT: "Land des Tests", fr: "Erster positiver Test", df: "Gültig ab", du: "Gültig bis",
      issue: "Zertifikat ausstellen", issued: "Zertifikat ausgestellt", print: "Drucken", pdf: "PDF", next: "Nächste Person",
      today: "Meine Zertifikate heute", colTime: "Zeit", colType: "Art", todayEmpty: "Noch keine.",
      revoke: "Widerrufen", revokeSure: "Wirklich widerrufen?", revoked: "widerrufen",
      types: { v: "Impfung", t: "Test", r: "Genesung" },
      issuing: "Wird ausgestellt…", retrying: (why, s, n) => `${why} — neuer Versuch in ${s} s (Versuch ${n}); dieselbe Anfrage, kein zweites Zertifikat.`,
      busy: "Der Server ist ausgelastet", offline: "Keine Verbindung", serverError: "Serverfehler",
      gaveUp: "Keine Antwort. Bitte „Zertifikat ausstellen“ erneut drücken: es bleibt ein Zertifikat.",
      notDate: "Kein Datum (z. B. 26.02.1998)", notDateTime: "Kein Datum mit Uhrzeit (z. B. 05.12.2026 09:35)",
      notDose: "Dosis als n/m, z. B. 2/2", notInList: "Bitte aus der Liste wählen", required: "Pflichtfeld",
      checkFields: "Bitte die markierten Felder prüfen.", reading: "Zertifikat wird gelesen…",
      noCode: "Kein Zertifikat im Bild gefunden.", noCamera: "Die Kamera ist nicht verfügbar; bitte ein Foto verwenden.",
      prefilled: (what) => `Aus dem vorherigen Zertifikat übernommen${what}: bitte prüfen und bestätigen.`,
      prefillInvalid: (why) => `Achtung: das gescannte Zertifikat ist NICHT gültig (${why}). Daten mit einem Ausweis prüfen.`,
      notAllowed: "Dieses Token darf keine Zertifikate ausstellen.", signinAgain: "Bitte erneut anmelden.",
      reasons: { REVOKED: "widerrufen", CERT_EXPIRED: "abgelaufen", SIGNATURE_INVALID: "Signatur ungültig: verändert oder gefälscht",
        DSC_UNKNOWN: "Aussteller nicht vertrauenswürdig", CERT_NOT_YET_VALID: "noch nicht gültig", KEY_USAGE_MISMATCH: "Aussteller darf diese Art nicht ausstellen" },
    },
  };
  let lang = (localStorage.getItem("lang") || navigator.language || "en").slice(0, 2) === "de" ? "de" : "en";
  const t = () => texts[lang];

  // --- dates as people type them ------------------------------------------
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  const validDay = (y, m, d) => {
    const x = new Date(Date.UTC(y, m - 1, d));
    return x.getUTCFullYear() === y && x.getUTCMonth() === m - 1 && x.getUTCDate() === d;
  };
  // parseDate reads 26.02.1998, 26.2.1998, 26/02/1998, 26021998 and
  // 1998-02-26; with partial, also 1998 and 02.1998 / 1998-02. It returns
  // the schema's form (YYYY-MM-DD, YYYY-MM, YYYY) or null.
  function parseDate(s, partial) {
    s = s.trim();
    let m;
    if ((m = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(s))) return day(+m[1], +m[2], +m[3]);
    if ((m = /^(\d{1,2})[./](\d{1,2})[./](\d{4})$/.exec(s))) return day(+m[3], +m[2], +m[1]);
    if ((m = /^(\d{2})(\d{2})(\d{4})$/.exec(s))) return day(+m[3], +m[2], +m[1]);
    if (!partial) return null;
    if ((m = /^(\d{4})$/.exec(s))) return m[1];
    if ((m = /^(\d{4})-(\d{1,2})$/.exec(s)) && +m[2] >= 1 && +m[2] <= 12) return m[1] + "-" + pad(+m[2]);
    if ((m = /^(\d{1,2})[./](\d{4})$/.exec(s)) && +m[1] >= 1 && +m[1] <= 12) return m[2] + "-" + pad(+m[1]);
    return null;
  }
  function day(y, mo, d) { return validDay(y, mo, d) ? `${y}-${pad(mo)}-${pad(d)}` : null; }
  // parseDateTime reads a date as above with a time (09:35), or a time
  // alone (today), and returns RFC 3339 with this computer's offset.
  function parseDateTime(s) {
    s = s.trim();
    let date = isoDate(new Date()), time = s;
    const m = /^(.+?)[ T,]+(\d{1,2}:\d{2})$/.exec(s);
    if (m) { date = parseDate(m[1], false); time = m[2]; }
    const tm = /^(\d{1,2}):(\d{2})$/.exec(time);
    if (!date || !tm || +tm[1] > 23 || +tm[2] > 59) return null;
    const [y, mo, d] = date.split("-").map(Number);
    return withOffset(new Date(y, mo - 1, d, +tm[1], +tm[2]));
  }
  const isoDate = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  function withOffset(d) {
    const off = -d.getTimezoneOffset();
    const sign = off >= 0 ? "+" : "-";
    return `${isoDate(d)}T${pad(d.getHours())}:${pad(d.getMinutes())}:00${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  }
  // Dates are shown as the language writes them.
  const showDate = (iso) => {
    if (lang !== "de" || !/^\d{4}-\d{2}-\d{2}$/.test(iso)) return iso;
    const [y, m, d] = iso.split("-");
    return `${d}.${m}.${y}`;
  };
  const showDateTime = (d) => `${showDate(isoDate(d))} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const addDays = (iso, n) => {
    const [y, m, d] = iso.split("-").map(Number);
    return isoDate(new Date(y, m - 1, d + n));
  };

  // --- talking to the server ----------------------------------------------
  let token = localStorage.getItem("issuerToken") || "";
  let profile = null;
  async function api(path, opts = {}) {
    const headers = Object.assign({ Authorization: "Bearer " + token }, opts.headers || {});
    const resp = await fetch(path, Object.assign({}, opts, { headers, cache: "no-store" }));
    if (resp.status === 401) {
      signOut(t().signinAgain);
      throw new Error("unauthorized");
    }
    return resp;
  }
  const errorOf = async (resp) => (await resp.json().catch(() => ({}))) || {};

  // --- value sets: names for people, codes for the certificate -------------
  const sets = {}; // id → {byCode, byName}
  function loadSets(vs) {
    for (const [id, codes] of Object.entries(vs || {})) {
      const byName = {};
      for (const [code, name] of Object.entries(codes)) byName[name.toLowerCase()] = code;
      sets[id] = { byCode: codes, byName };
    }
    const fill = (listID, setID) => {
      const dl = $(listID);
      dl.textContent = "";
      const s = sets[setID];
      if (!s) return;
      const entries = Object.entries(s.byCode).sort((a, b) => a[1].localeCompare(b[1]));
      for (const [code, name] of entries) {
        const o = document.createElement("option");
        o.value = name;
        o.label = code;
        dl.appendChild(o);
      }
    };
    fill("dl-mp", "vaccines-covid-19-names");
    fill("dl-ma", "vaccines-covid-19-auth-holders");
    fill("dl-vp", "sct-vaccines-covid-19");
    fill("dl-co", "country-2-codes");
    fill("dl-tm", "covid-19-lab-test-manufacturer-and-name");
    const options = (sel, setID, order) => {
      sel.textContent = "";
      const s = sets[setID];
      if (!s) return;
      const codes = Object.keys(s.byCode).sort((a, b) => order.indexOf(b) - order.indexOf(a));
      for (const code of codes) {
        const o = document.createElement("option");
        o.value = code;
        o.textContent = s.byCode[code];
        sel.appendChild(o);
      }
    };
    options($("tt"), "covid-19-lab-test-type", ["LP6464-4", "LP217198-3"]); // rapid test first
    options($("tr"), "covid-19-lab-result", ["260373001", "260415000"]);   // not detected first
  }
  // codeOf maps what a picker holds (a name, or a code typed as such) to the code.
  function codeOf(input) {
    const s = sets[input.dataset.set];
    const v = input.value.trim();
    if (!v) return "";
    if (!s) return v; // no value set here (a device id typed as such)
    if (s.byCode[v] !== undefined) return v;
    const c = s.byName[v.toLowerCase()];
    return c === undefined ? null : c;
  }
  const nameOf = (setID, code) => (sets[setID] && sets[setID].byCode[code]) || code;

  // --- signing in ---------------------------------------------------------
  async function signIn(tok) {
    token = tok.trim();
    let resp;
    try {
      resp = await fetch("/api/v1/issuer", { headers: { Authorization: "Bearer " + token }, cache: "no-store" });
    } catch (err) {
      $("signin-error").textContent = t().offline;
      show("signin");
      return;
    }
    if (!resp.ok) {
      $("signin-error").textContent = resp.status === 401 ? t().tokenRefused : (await errorOf(resp)).error || resp.statusText;
      localStorage.removeItem("issuerToken");
      show("signin");
      return;
    }
    profile = await resp.json();
    localStorage.setItem("issuerToken", token);
    $("signin-error").textContent = "";
    $("token").value = "";
    loadSets(profile.valueSets);
    if (!profile.types.length) {
      $("signin-error").textContent = t().notAllowed;
      show("signin");
      return;
    }
    show("desk");
    renderTypes();
    selectType(profile.types[0]);
    clearPerson();
    loadToday();
  }
  function signOut(message) {
    nextPerson();
    token = "";
    profile = null;
    localStorage.removeItem("issuerToken");
    $("signin-error").textContent = message || "";
    show("signin");
  }
  function show(what) {
    document.body.dataset.state = what;
    $("signin").hidden = what !== "signin";
    $("desk").hidden = what !== "desk";
    $("signout").hidden = what !== "desk";
    $("who").textContent = profile && what === "desk" ? `${profile.name} · ${profile.country}` : "";
    if (what === "signin") $("token").focus();
  }
  $("signin-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value); });
  $("signout").addEventListener("click", () => signOut(""));

  // --- the form -----------------------------------------------------------
  let type = "v";
  function renderTypes() {
    const box = $("types");
    box.textContent = "";
    for (const ty of profile.types) {
      const b = document.createElement("button");
      b.type = "button";
      b.setAttribute("role", "tab");
      b.dataset.type = ty;
      b.textContent = t().types[ty];
      b.addEventListener("click", () => { selectType(ty); $("fn").focus(); });
      box.appendChild(b);
    }
  }
  function selectType(ty) {
    type = ty;
    for (const b of $("types").children) b.setAttribute("aria-selected", String(b.dataset.type === ty));
    for (const f of document.querySelectorAll("fieldset[data-type]")) f.hidden = f.dataset.type !== ty;
    clearErrors();
  }
  // defaults: today, now, the pharmacy's country and name.
  function setDefaults() {
    const now = new Date();
    $("dt").value = showDate(isoDate(now));
    $("sc").value = showDateTime(now);
    const country = profile ? nameOf("country-2-codes", profile.country) : "";
    for (const id of ["v-co", "t-co", "r-co"]) $(id).value = country;
    $("tc").value = profile ? profile.name : "";
    $("tt").value = "LP217198-3";
    $("tr").value = "260415000";
    testType();
  }
  function testType() {
    const rat = $("tt").value === "LP217198-3";
    $("p-device").hidden = !rat;
    $("p-nm").hidden = rat;
  }
  $("tt").addEventListener("change", testType);

  // The product brings its holder and vaccine type, as the EU pairs them.
  $("mp").addEventListener("change", () => {
    const code = codeOf($("mp"));
    const d = code && profile && profile.products[code];
    if (d) {
      $("ma").value = nameOf("vaccines-covid-19-auth-holders", d.ma);
      $("vp").value = nameOf("sct-vaccines-covid-19", d.vp);
    }
  });
  // A recovery's validity follows the first positive test (11 and 180 days)
  // until someone types another.
  $("fr").addEventListener("input", () => {
    const fr = parseDate($("fr").value, false);
    if (!fr) return;
    if (!$("df").dataset.typed) $("df").value = showDate(addDays(fr, 11));
    if (!$("du").dataset.typed) $("du").value = showDate(addDays(fr, 180));
  });
  for (const id of ["df", "du"]) $(id).addEventListener("input", () => { $(id).dataset.typed = "1"; });

  // Names as the certificate will carry them, from the server's
  // transliteration (ICAO 9303), a moment after typing stops.
  let translitTimer = null, translitSeq = 0;
  function translit() {
    clearTimeout(translitTimer);
    translitTimer = setTimeout(async () => {
      const fn = $("fn").value, gn = $("gn").value, seq = ++translitSeq;
      if (!fn.trim() && !gn.trim()) { $("translit").textContent = ""; return; }
      try {
        const resp = await api("/api/v1/issuer/names", {
          method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ fn, gn }),
        });
        if (!resp.ok || seq !== translitSeq) return;
        const n = await resp.json();
        $("translit").textContent = [n.fnt, n.gnt].filter(Boolean).join(", ");
      } catch (err) { /* the preview waits for the next keystroke */ }
    }, 200);
  }
  $("fn").addEventListener("input", translit);
  $("gn").addEventListener("input", translit);
  $("dob").addEventListener("input", () => {
    const v = $("dob").value.trim();
    const d = parseDate(v, true);
    $("dob-out").textContent = v && d ? d : "";
  });

  // --- errors next to their fields -----------------------------------------
  const extraFields = { "v[0].sd": "dose", "nam.fnt": "fn", "nam.gnt": "gn", nam: "fn" };
  function inputFor(field) {
    if (extraFields[field]) return $(extraFields[field]);
    return document.querySelector(`[data-field="${CSS.escape(field)}"]`);
  }
  function clearErrors() {
    for (const el of document.querySelectorAll(".err[data-for]")) el.textContent = "";
    for (const el of document.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  }
  function fieldError(field, problem) {
    let slot = null;
    for (const el of document.querySelectorAll(".err[data-for]")) {
      if (el.dataset.for.split(" ").includes(field) && !el.closest("[hidden]")) { slot = el; break; }
    }
    if (!slot) slot = document.querySelector('.err[data-for~="form"]');
    slot.textContent = slot.textContent ? slot.textContent + "; " + problem : problem;
    const input = inputFor(field);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      const det = input.closest("details");
      if (det) det.open = true;
    }
    return input;
  }
  const formError = (msg) => fieldError("form", msg);

  // --- building the request -----------------------------------------------
  // request returns the API body, or null after marking what is wrong.
  function request() {
    clearErrors();
    const bad = [];
    const need = (field, value, problem) => {
      if (value === null || value === "") bad.push(fieldError(field, value === "" ? t().required : problem));
      return value;
    };
    const text = (id) => $(id).value.trim();
    const body = { nam: {}, dob: "" };
    if (text("fn")) body.nam.fn = text("fn");
    if (text("gn")) body.nam.gn = text("gn");
    if (!body.nam.fn && !body.nam.gn) need("nam.fn", "", "");
    body.dob = need("dob", text("dob") ? parseDate(text("dob"), true) : "", t().notDate);
    const date = (id, field) => need(field, text(id) ? parseDate(text(id), false) : "", t().notDate);
    const coded = (id, field) => need(field, codeOf($(id)), t().notInList);
    if (type === "v") {
      const e = { tg: "840539006" };
      e.mp = coded("mp", "v[0].mp");
      e.ma = coded("ma", "v[0].ma");
      e.vp = coded("vp", "v[0].vp");
      const m = /^\s*(\d{1,2})\s*\/\s*(\d{1,2})\s*$/.exec($("dose").value);
      if (!m) need("v[0].dn", $("dose").value.trim() ? null : "", t().notDose);
      else { e.dn = +m[1]; e.sd = +m[2]; }
      e.dt = date("dt", "v[0].dt");
      const co = coded("v-co", "v[0].co");
      if (co) e.co = co;
      body.v = [e];
    } else if (type === "t") {
      const e = { tg: "840539006", tt: $("tt").value, tr: $("tr").value };
      if (e.tt === "LP217198-3") e.ma = coded("device", "t[0].ma");
      else if (text("nm")) e.nm = text("nm");
      e.sc = need("t[0].sc", text("sc") ? parseDateTime(text("sc")) : "", t().notDateTime);
      if (text("tc")) e.tc = text("tc");
      const co = coded("t-co", "t[0].co");
      if (co) e.co = co;
      body.t = [e];
    } else {
      const e = { tg: "840539006" };
      e.fr = date("fr", "r[0].fr");
      e.df = date("df", "r[0].df");
      e.du = date("du", "r[0].du");
      const co = coded("r-co", "r[0].co");
      if (co) e.co = co;
      body.r = [e];
    }
    if (bad.length) {
      formError(t().checkFields);
      if (bad[0]) bad[0].focus();
      return null;
    }
    return body;
  }

  // --- issuing: one key per certificate, retried until it is there ---------
  let attempt = null; // {key, body}: the request being issued or issued
  let result = null;  // {uvci, hc1, png, pdf}: blob URLs to revoke
  const randomKey = () => {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return "counter-" + Array.from(b, (x) => pad(x.toString(16))).join("");
  };
  const status = (s, busy) => { $("status").textContent = s || ""; $("status").className = busy ? "busy" : ""; };

  // send posts the attempt's body with its Idempotency-Key in the format
  // asked; busy servers (429/503), server errors and lost connections are
  // retried as Retry-After says (backing off otherwise) for up to two
  // minutes — the key makes every retry the same certificate.
  async function send(accept) {
    const started = Date.now();
    let backoff = 1, n = 1;
    for (;;) {
      let resp = null, why = "";
      try {
        resp = await api("/api/v1/certificates", {
          method: "POST", body: JSON.stringify(attempt.body),
          headers: { "Content-Type": "application/json", Accept: accept, "Idempotency-Key": attempt.key },
        });
      } catch (err) {
        if (err.message === "unauthorized") throw err;
        why = t().offline;
      }
      if (resp && resp.status === 201) return resp;
      let wait = backoff;
      if (resp) {
        if (resp.status === 429 || resp.status === 503) {
          why = t().busy;
          wait = Math.min(Math.max(parseInt(resp.headers.get("Retry-After"), 10) || backoff, 1), 30);
        } else if (resp.status >= 500) {
          why = t().serverError + " (" + resp.status + ")";
        } else {
          return resp; // the request itself is refused: no retry helps
        }
      }
      if (Date.now() - started > 120000) throw new Error(t().gaveUp);
      backoff = Math.min(backoff * 2, 10);
      n++;
      for (let s = wait; s > 0; s--) {
        status(t().retrying(why, s, n), true);
        await new Promise((res) => setTimeout(res, 1000));
      }
    }
  }

  $("form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if ($("issue").disabled) return;
    const body = request();
    if (!body) return;
    // The same request again (after a failure) keeps its key: whatever
    // reached the server is answered again, not issued twice.
    if (!attempt || JSON.stringify(attempt.body) !== JSON.stringify(body)) attempt = { key: randomKey(), body };
    $("issue").disabled = true;
    status(t().issuing);
    try {
      const resp = await send("application/json");
      if (resp.status !== 201) {
        const err = await errorOf(resp);
        if (err.fields && err.fields.length) {
          let first = null;
          for (const f of err.fields) first = first || fieldError(f.field, f.problem);
          if (first) first.focus();
        } else {
          formError(err.error || resp.statusText);
        }
        status("");
        return;
      }
      const out = await resp.json();
      const png = await (await send("image/png")).blob();
      showResult(out, png);
      status("");
    } catch (err) {
      if (err.message !== "unauthorized") status(err.message, true);
    } finally {
      $("issue").disabled = false;
    }
  });

  function showResult(out, png) {
    result = { uvci: out.uvci, hc1: out.hc1, png: URL.createObjectURL(png), pdf: null };
    $("qr").src = result.png;
    $("uvci").textContent = out.uvci;
    $("pdf").hidden = true;
    $("result").hidden = false;
    $("print").focus();
    loadToday();
  }

  // Print: the A4 PDF (the same certificate again, by its key), printed
  // from a frame; the PDF link opens it where a browser cannot print frames.
  $("print").addEventListener("click", async () => {
    if (!attempt || !result) return;
    $("print").disabled = true;
    try {
      if (!result.pdf) {
        const resp = await send("application/pdf");
        if (resp.status !== 201) throw new Error((await errorOf(resp)).error || resp.statusText);
        result.pdf = URL.createObjectURL(await resp.blob());
      }
      $("pdf").href = result.pdf;
      $("pdf").hidden = false;
      const frame = $("print-frame");
      frame.onload = () => { try { frame.contentWindow.print(); } catch (err) { window.open(result.pdf); } };
      frame.src = result.pdf;
    } catch (err) {
      status(err.message, true);
    } finally {
      $("print").disabled = false;
    }
  });

  // Next person: every personal field, the result and its files go; the
  // browser keeps nothing of them.
  function nextPerson() {
    if (result) {
      URL.revokeObjectURL(result.png);
      if (result.pdf) URL.revokeObjectURL(result.pdf);
    }
    result = null;
    attempt = null;
    $("qr").removeAttribute("src");
    $("uvci").textContent = "";
    $("pdf").removeAttribute("href");
    $("pdf").hidden = true;
    // The frame leaves the PDF: removing its src would not unload it, and
    // a PDF still loading would print (and take the focus) at the next
    // person's turn.
    const frame = $("print-frame");
    frame.onload = null;
    frame.src = "about:blank";
    $("result").hidden = true;
    clearPerson();
  }
  function clearPerson() {
    $("form").reset();
    for (const id of ["df", "du"]) delete $(id).dataset.typed;
    $("translit").textContent = "";
    $("dob-out").textContent = "";
    $("prefilled").textContent = "";
    $("prefilled").className = "";
    $("v-more").open = false;
    clearErrors();
    status("");
    setDefaults();
    $("fn").focus();
  }
  $("next").addEventListener("click", nextPerson);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !$("result").hidden) nextPerson();
  });

  // --- the previous certificate: a booster in seconds ----------------------
  async function readPrevious(blob, live) {
    const resp = await api("/api/v1/verify?full=1" + (live ? "&live=1" : ""), {
      method: "POST", body: blob, headers: { "Content-Type": blob.type || "image/jpeg" },
    });
    if (resp.status === 503 || resp.status === 429) return null;
    if (!resp.ok) {
      $("prefilled").textContent = (await errorOf(resp)).error || resp.statusText;
      $("prefilled").className = "warn";
      return null;
    }
    return resp.json();
  }
  // prefill takes what a booster needs from a verified previous
  // certificate: names, date of birth, vaccine, the next dose.
  function prefill(r) {
    const p = r.payload || {};
    const n = p.nam || {};
    $("fn").value = n.fn || n.fnt || "";
    $("gn").value = n.gn || n.gnt || "";
    $("dob").value = p.dob ? showDate(p.dob.slice(0, 10)) : "";
    $("dob").dispatchEvent(new Event("input"));
    translit();
    let what = "";
    const v = (p.v || [])[0];
    if (v && profile.types.includes("v")) {
      selectType("v");
      $("mp").value = nameOf("vaccines-covid-19-names", v.mp);
      $("ma").value = nameOf("vaccines-covid-19-auth-holders", v.ma);
      $("vp").value = nameOf("sct-vaccines-covid-19", v.vp);
      const dn = (v.dn | 0) + 1;
      $("dose").value = `${dn}/${Math.max(v.sd | 0, dn)}`;
      $("dt").value = showDate(isoDate(new Date()));
      what = ` (${nameOf("vaccines-covid-19-names", v.mp)} ${v.dn}/${v.sd}, ${showDate(String(v.dt).slice(0, 10))})`;
    }
    const code = ((r.reasons || []).find((x) => x.stage !== "picture") || {}).code || "?";
    $("prefilled").textContent = r.valid ? t().prefilled(what) : t().prefillInvalid(t().reasons[code] || code);
    $("prefilled").className = r.valid ? "" : "warn";
    $("issue").focus();
  }
  const noCodeOnly = (r) => r.stages && r.stages.picture === "fail" &&
    (r.reasons || []).every((x) => x.code === "QR_NOT_FOUND" || x.code === "IMAGE_UNREADABLE");
  $("upload").addEventListener("change", async () => {
    const f = $("upload").files[0];
    $("upload").value = "";
    if (!f) return;
    $("prefilled").textContent = t().reading;
    $("prefilled").className = "";
    try {
      const r = await readPrevious(f, false);
      if (!r) return;
      if (noCodeOnly(r) || !r.payload) { $("prefilled").textContent = t().noCode; $("prefilled").className = "warn"; return; }
      prefill(r);
    } catch (err) {
      if (err.message !== "unauthorized") $("prefilled").textContent = t().offline;
    }
  });
  const scanner = GreenpassScanner.create($("video"), async (blob) => {
    const r = await readPrevious(blob, true);
    if (!r || noCodeOnly(r) || !r.payload) return false;
    closeCamera();
    prefill(r);
    return true;
  });
  function closeCamera() { scanner.close(); $("camera").hidden = true; }
  $("scan").addEventListener("click", async () => {
    $("camera").hidden = false;
    try {
      await scanner.open();
      scanner.start();
    } catch (err) {
      closeCamera();
      $("prefilled").textContent = t().noCamera;
      $("prefilled").className = "warn";
    }
  });
  $("camera-close").addEventListener("click", closeCamera);

  // --- my certificates today ----------------------------------------------
  async function loadToday() {
    if (!profile) return;
    const now = new Date();
    const from = new Date(now.getFullYear(), now.getMonth(), now.getDate());
    let rows = [];
    try {
      let cursor = "";
      do {
        const q = new URLSearchParams({ from: withOffset(from), to: new Date(now.getTime() + 60000).toISOString(), limit: "500" });
        if (cursor) q.set("cursor", cursor);
        const resp = await api("/api/v1/certificates?" + q);
        if (!resp.ok) return;
        const page = await resp.json();
        rows = rows.concat(page.certificates);
        cursor = page.next || "";
      } while (cursor && rows.length < 2000);
    } catch (err) {
      return;
    }
    const body = $("today-rows");
    body.textContent = "";
    for (const a of rows.reverse()) { // newest first
      const tr = document.createElement("tr");
      if (a.revokedAt) tr.className = "revoked";
      const when = new Date(a.issuedAt);
      const cells = [`${pad(when.getHours())}:${pad(when.getMinutes())}`, t().types[a.type] || a.type, a.uvci];
      cells.forEach((c, i) => {
        const td = document.createElement("td");
        td.textContent = c;
        if (i === 2) td.className = "uvci";
        tr.appendChild(td);
      });
      const td = document.createElement("td");
      if (a.revokedAt) {
        td.textContent = t().revoked;
      } else {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "quiet";
        b.textContent = t().revoke;
        // Two presses: the first asks, the second revokes.
        b.addEventListener("click", async () => {
          if (!b.dataset.sure) { b.dataset.sure = "1"; b.textContent = t().revokeSure; return; }
          b.disabled = true;
          try {
            await api("/api/v1/certificates/" + encodeURIComponent(a.uvci) + "/revoke", { method: "POST" });
          } finally {
            loadToday();
          }
        });
        td.appendChild(b);
      }
      tr.appendChild(td);
      body.appendChild(tr);
    }
    $("today-empty").hidden = rows.length > 0;
  }

  // --- language ------------------------------------------------------------
  function applyLanguage() {
    document.documentElement.lang = lang;
    for (const el of document.querySelectorAll("[data-i18n]")) {
      const s = t()[el.dataset.i18n];
      if (typeof s === "string") el.textContent = s;
    }
    for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t()[el.dataset.i18nPlaceholder];
    $("lang").textContent = lang === "de" ? "EN" : "DE";
    if (profile) {
      renderTypes();
      selectType(type);
      loadToday();
    }
  }
  $("lang").addEventListener("click", () => {
    // Dates already typed keep their meaning in the other language.
    const dates = ["dt", "fr", "df", "du"].map((id) => [id, parseDate($(id).value, false)]);
    lang = lang === "de" ? "en" : "de";
    localStorage.setItem("lang", lang);
    applyLanguage();
    for (const [id, iso] of dates) if (iso) $(id).value = showDate(iso);
  });

  applyLanguage();
  if (token) signIn(token); else show("signin");
})();

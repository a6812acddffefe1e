// The explorable page: RoPE's logit curves, its sharpest positional head and where its slowest
// semantic channel breaks, computed here in the browser from the controls of docs/explore.md.
// Conventions are ropelab's: frequencies g_m = theta^(-2m/d) for m < floor(p d / 2) (p-RoPE;
// the other pairs are frozen, g = 0); half layout, pair m = (x[m], x[m + d/2]); the logit at
// distance r is c(r) = q^T R^(-r) k.
(function () {
  "use strict";

  const EPS = 0.01; // a head is sharp when every row puts at least 1 - EPS on its target
  const BAND = 16; // the positional head is built on the fastest 16 rotating pairs
  const SEED = 20250101;

  function frequencies(d, theta, p) {
    const kept = Math.floor((p * d) / 2);
    const g = new Float64Array(d / 2);
    for (let m = 0; m < kept; m++) g[m] = Math.pow(theta, -(2 * m) / d);
    return { g: g, kept: kept };
  }

  // mulberry32: a small seeded generator, so that "a fixed Gaussian draw" is the same draw on
  // every visit; Box-Muller turns its uniforms into standard normals.
  function gaussians(n, seed) {
    let a = seed >>> 0;
    function uniform() {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
    }
    const out = new Float64Array(n);
    for (let i = 0; i < n; i += 2) {
      const radius = Math.sqrt(-2 * Math.log(uniform()));
      const angle = 2 * Math.PI * uniform();
      out[i] = radius * Math.cos(angle);
      if (i + 1 < n) out[i + 1] = radius * Math.sin(angle);
    }
    return out;
  }

  // c(r) = sum_m (q1 k1 + q2 k2) cos(r g_m) + (q1 k2 - q2 k1) sin(r g_m), r = 0 .. n-1.
  function logitCurve(q, k, g, n) {
    const h = g.length;
    const curve = new Float64Array(n);
    for (let m = 0; m < h; m++) {
      const a = q[m] * k[m] + q[m + h] * k[m + h];
      const b = q[m] * k[m + h] - q[m + h] * k[m];
      if (g[m] === 0) {
        for (let r = 0; r < n; r++) curve[r] += a;
        continue;
      }
      for (let r = 0; r < n; r++) curve[r] += a * Math.cos(r * g[m]) + b * Math.sin(r * g[m]);
    }
    return curve;
  }

  function meanSquare(curve, from, to) {
    let total = 0;
    for (let r = from; r < to; r++) total += curve[r] * curve[r];
    return total / (to - from);
  }

  // Thm 5.3: the diagonal head q = k = s psi, psi spread evenly over the band. The last row is
  // the hardest (its softmax has the most competitors); bisect s^2 until it keeps 1 - EPS.
  function sharpestHead(g, kept, n) {
    const band = Math.min(BAND, kept);
    if (band === 0) return { band: 0 };
    const c = new Float64Array(n);
    for (let m = 0; m < band; m++) {
      for (let t = 0; t < n; t++) c[t] += Math.cos(t * g[m]) / band;
    }
    let best = -Infinity;
    for (let t = 1; t < n; t++) best = Math.max(best, c[t]);
    const gap = c[0] - best;
    if (!(gap > 0)) return { band: band, gap: gap };
    const sufficient = Math.max(0, Math.log(((n - 1) * (1 - EPS)) / EPS) / gap);
    function lastRowWeight(s2) {
      let total = 0;
      for (let t = 0; t < n; t++) total += Math.exp(s2 * (c[t] - c[0]));
      return 1 / total;
    }
    let low = 0;
    let high = Math.max(sufficient, 1e-12);
    for (let i = 0; i < 200 && high - low > 1e-12 * high; i++) {
      const middle = (low + high) / 2;
      if (lastRowWeight(middle) < 1 - EPS) low = middle;
      else high = middle;
    }
    return { band: band, gap: gap, smallest: high, sufficient: sufficient, weight: lastRowWeight(high) };
  }

  // Thm 6.1 (semantic_channels.semantic_range): against an anti-aligned rival of equal norm a
  // pair of frequency g breaks at floor(pi / (2 g) + 3/2) + 1 tokens; a frozen pair never does.
  function semanticRange(g) {
    return g === 0 ? Infinity : Math.floor(Math.PI / (2 * g) + 1.5) + 1;
  }

  function fmt(x, digits) {
    if (x === Infinity) return "never";
    if (!Number.isFinite(x)) return String(x);
    return Number(x.toPrecision(digits)).toString();
  }

  function draw(canvas, curves, colours, n) {
    const context = canvas.getContext("2d");
    const width = canvas.width;
    const height = canvas.height;
    context.clearRect(0, 0, width, height);
    let top = 0;
    for (const curve of curves) for (let r = 0; r < n; r++) top = Math.max(top, Math.abs(curve[r]));
    top = top || 1;
    context.strokeStyle = "#999";
    context.beginPath();
    context.moveTo(0, height / 2);
    context.lineTo(width, height / 2);
    context.stroke();
    curves.forEach(function (curve, i) {
      context.strokeStyle = colours[i];
      context.lineWidth = 1;
      context.beginPath();
      const step = Math.max(1, Math.floor(n / (4 * width)));
      for (let r = 0; r < n; r += step) {
        const x = (r / (n - 1)) * width;
        const y = height / 2 - (curve[r] / top) * (height / 2 - 4);
        if (r === 0) context.moveTo(x, y);
        else context.lineTo(x, y);
      }
      context.stroke();
    });
  }

  function read(root) {
    const value = function (id) { return Number(root.querySelector("#" + id).value); };
    return {
      d: 2 * Math.round(value("explore-d") / 2),
      theta: Math.pow(10, value("explore-log-theta")),
      p: value("explore-p"),
      n: Math.round(Math.pow(2, value("explore-log-context"))),
    };
  }

  function update(root) {
    const s = read(root);
    const set = function (id, text) { root.querySelector("#" + id).textContent = text; };
    set("explore-d-value", String(s.d));
    set("explore-theta-value", fmt(s.theta, 4));
    set("explore-p-value", String(s.p));
    set("explore-context-value", String(s.n));

    const schedule = frequencies(s.d, s.theta, s.p);
    const g = schedule.g;
    const ones = new Float64Array(s.d).fill(1);
    const q = gaussians(s.d, SEED);
    const k = gaussians(s.d, SEED + 1);
    const allOnes = logitCurve(ones, ones, g, s.n).map(function (v) { return v / s.d; });
    const gaussian = logitCurve(q, k, g, s.n).map(function (v) { return v / s.d; });
    const quarter = Math.max(2, Math.floor(s.n / 4));
    const onesRatio = meanSquare(allOnes, s.n - quarter, s.n) / meanSquare(allOnes, 1, quarter);
    const gaussRatio = meanSquare(gaussian, s.n - quarter, s.n) / meanSquare(gaussian, 1, quarter);
    set("explore-kept", String(schedule.kept));
    set("explore-ones-end", fmt(allOnes[s.n - 1], 6));
    set("explore-gauss-end", fmt(gaussian[s.n - 1], 6));
    set("explore-ones-ratio", fmt(onesRatio, 6));
    set("explore-gauss-ratio", fmt(gaussRatio, 6));
    draw(root.querySelector("#explore-curves"), [allOnes, gaussian], ["#3f51b5", "#ff9800"], s.n);

    const head = sharpestHead(g, schedule.kept, s.n);
    set("explore-band", String(head.band));
    if (head.band === 0) {
      set("explore-gap", "no rotating pair");
      set("explore-s2", "none: without rotation no head is sharp");
      set("explore-sufficient", "none");
    } else if (!(head.gap > 0)) {
      set("explore-gap", fmt(head.gap, 6));
      set("explore-s2", "none: the diagonal is not the strict maximum");
      set("explore-sufficient", "none");
    } else {
      set("explore-gap", fmt(head.gap, 6));
      set("explore-s2", fmt(head.smallest, 6));
      set("explore-sufficient", fmt(head.sufficient, 6));
    }

    const slowest = schedule.kept - 1;
    let unbroken = 0;
    for (let m = 0; m < g.length; m++) if (semanticRange(g[m]) > s.n) unbroken++;
    set("explore-slowest-pair", slowest >= 0 ? String(slowest) : "none");
    set("explore-slowest-g", slowest >= 0 ? fmt(g[slowest], 6) : "none");
    set("explore-breaks-at", slowest >= 0 ? String(semanticRange(g[slowest])) : "never");
    set("explore-unbroken", String(unbroken));
    set("explore-frozen", String(s.d / 2 - schedule.kept));

    window.ropelabExplore = { settings: s, freqs: Array.from(g), q: Array.from(q), k: Array.from(k) };
    root.dataset.ready = [s.d, s.theta, s.p, s.n].join(",");
  }

  function start() {
    const root = document.getElementById("explore");
    if (!root) return;
    root.querySelectorAll("input").forEach(function (input) {
      input.addEventListener("input", function () { update(root); });
    });
    update(root);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

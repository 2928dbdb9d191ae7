// Parley's map for a party's duty officer: the offline basemap, the party's operations, reservations,
// others' intents and constraints, protected sites and movements, the line's requested volumes, exit
// routes and live tracks; the line panel (inbox, outbox, answers, impact preview). Live from the node's
// event stream (ui/api/events): nothing is polled.

import * as maplibregl from "maplibre-gl";
import "maplibre-gl/dist/maplibre-gl.css";
import workerUrl from "maplibre-gl/dist/maplibre-gl-worker.mjs?worker&url";
import { feature, mesh } from "topojson-client";
import countriesUrl from "world-atlas/countries-50m.json?url";
import placesUrl from "../generated/places.json?url";
import { ApiError, cookie, get, post, setCsrf, type Json } from "./api";
import { collection, drawable, positions } from "./geo";
import "./style.css";

maplibregl.setWorkerUrl(workerUrl); // bundled beside the page (a module worker)

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

// -- sign-in ---------------------------------------------------------------------------------------

async function start(): Promise<void> {
  try {
    const session = await get("session");
    await open(session);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) showSignIn();
    else throw e;
  }
}

function showSignIn(): void {
  $("app").hidden = true;
  const form = $<HTMLFormElement>("signin");
  form.hidden = false;
  $("signin-party").textContent = location.pathname.split("/").filter(Boolean).slice(-2, -1)[0] ?? "";
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    $("signin-error").textContent = "";
    try {
      setCsrf(cookie("parley_ui_csrf"));
      const session = await post("login", {
        name: $<HTMLInputElement>("signin-name").value,
        password: $<HTMLInputElement>("signin-password").value,
      });
      form.hidden = true;
      await open(session);
    } catch (e) {
      $("signin-error").textContent = e instanceof Error ? e.message : String(e);
    }
  };
}

// -- layers ----------------------------------------------------------------------------------------

interface LayerDef {
  id: string;
  label: string;
  color: string;
  layers: maplibregl.LayerSpecification[];
  visible?: boolean;
}

const EMPTY = collection([]);

function volumeLayers(id: string, color: string, dashed = false, opacity = 0.18): maplibregl.LayerSpecification[] {
  return [
    { id: `${id}-fill`, type: "fill", source: id, filter: ["==", ["geometry-type"], "Polygon"], paint: { "fill-color": color, "fill-opacity": opacity } },
    {
      id: `${id}-line`,
      type: "line",
      source: id,
      paint: { "line-color": color, "line-width": 2, ...(dashed ? { "line-dasharray": [3, 2] } : {}) },
    },
  ];
}

const LAYERS: LayerDef[] = [
  { id: "operations", label: "Own operations", color: "#1f6feb", layers: volumeLayers("operations", "#1f6feb") },
  { id: "reservations", label: "Reservations (own)", color: "#8e44ad", layers: volumeLayers("reservations", "#8e44ad", true, 0.14) },
  { id: "others", label: "Others' intents and constraints", color: "#e67e22", layers: volumeLayers("others", "#e67e22", true, 0.1) },
  {
    id: "protected",
    label: "Protected sites and movements",
    color: "#2e7d32",
    layers: [
      { id: "protected-fill", type: "fill", source: "protected", filter: ["==", ["geometry-type"], "Polygon"], paint: { "fill-color": "#2e7d32", "fill-opacity": 0.25 } },
      { id: "protected-line", type: "line", source: "protected", paint: { "line-color": "#2e7d32", "line-width": 3 } },
      { id: "protected-point", type: "circle", source: "protected", filter: ["==", ["geometry-type"], "Point"], paint: { "circle-color": "#2e7d32", "circle-radius": 5 } },
    ],
  },
  { id: "requested", label: "Requested volumes (line)", color: "#d32f2f", layers: volumeLayers("requested", "#d32f2f", false, 0.12) },
  {
    id: "exits",
    label: "Affected aircraft and exit routes",
    color: "#c2185b",
    layers: [
      { id: "exits-line", type: "line", source: "exits", filter: ["==", ["geometry-type"], "LineString"], paint: { "line-color": "#c2185b", "line-width": 3, "line-dasharray": [2, 1] } },
      { id: "exits-point", type: "circle", source: "exits", filter: ["==", ["geometry-type"], "Point"], paint: { "circle-color": "#ffeb3b", "circle-radius": 9, "circle-stroke-color": "#c2185b", "circle-stroke-width": 2 } },
    ],
  },
  {
    id: "tracks",
    label: "Live tracks (own aircraft)",
    color: "#0b3d91",
    layers: [
      { id: "trails-line", type: "line", source: "trails", paint: { "line-color": "#0b3d91", "line-width": 1.5, "line-opacity": 0.6 } },
      { id: "tracks-point", type: "circle", source: "tracks", paint: { "circle-color": "#0b3d91", "circle-radius": 6, "circle-stroke-color": "#fff", "circle-stroke-width": 2 } },
    ],
  },
];

/** Natural Earth's rings cross the antimeridian (they are spherical, for d3-geo): each ring is
 * unwrapped (no jump over 180 degrees of longitude; MapLibre draws beyond +-180). */
function unwrapped(fc: Json): Json {
  const ring = (r: number[][]): number[][] => {
    let shift = 0;
    return r.map((p, i) => {
      if (i > 0) {
        const d = p[0] + shift - (r[i - 1][0] + shift);
        if (d > 180) shift -= 360;
        else if (d < -180) shift += 360;
      }
      return [p[0] + shift, p[1]];
    });
  };
  for (const f of fc.features) {
    const g = f.geometry;
    if (g?.type === "Polygon") g.coordinates = g.coordinates.map(ring);
    if (g?.type === "MultiPolygon") g.coordinates = g.coordinates.map((p: number[][][]) => p.map(ring));
  }
  return fc;
}

/** Lines cut where they jump across the antimeridian, and the antimeridian itself left out. */
function split(g: Json): Json {
  const lines: number[][][] = [];
  for (const line of g.coordinates as number[][][]) {
    let current: number[][] = [];
    for (const p of line) {
      const last = current[current.length - 1];
      const seam = last && Math.abs(Math.abs(p[0]) - 180) < 1e-6 && Math.abs(Math.abs(last[0]) - 180) < 1e-6;
      if (last && (Math.abs(p[0] - last[0]) > 180 || seam)) {
        if (current.length > 1) lines.push(current);
        current = [];
      }
      current.push(p);
    }
    if (current.length > 1) lines.push(current);
  }
  return { type: "MultiLineString", coordinates: lines };
}

async function basemapStyle(tileUrl: string | null): Promise<maplibregl.StyleSpecification> {
  const [world, places] = await Promise.all([
    fetch(countriesUrl).then((r) => r.json()),
    fetch(placesUrl).then((r) => r.json() as Promise<[number, number, string, number][]>),
  ]);
  const countries = unwrapped(feature(world, world.objects.countries) as unknown as Json);
  const borders = split(mesh(world, world.objects.countries, (a, b) => a !== b) as unknown as Json);
  const coast = split(mesh(world, world.objects.countries, (a, b) => a === b) as unknown as Json);
  const placeFeatures = places.map(([lng, lat, name, population]) => ({
    type: "Feature",
    geometry: { type: "Point", coordinates: [lng, lat] },
    properties: { name, population },
  }));
  const sources: Record<string, maplibregl.SourceSpecification> = {
    countries: { type: "geojson", data: countries as any },
    borders: { type: "geojson", data: borders as any },
    coast: { type: "geojson", data: coast as any },
    places: { type: "geojson", data: collection(placeFeatures) as any },
  };
  const layers: maplibregl.LayerSpecification[] = [
    { id: "sea", type: "background", paint: { "background-color": "#cfe3ef" } },
    { id: "land", type: "fill", source: "countries", paint: { "fill-color": "#f3efe4" } },
  ];
  if (tileUrl) {
    sources.online = { type: "raster", tiles: [tileUrl], tileSize: 256, attribution: "online tiles" };
    layers.push({ id: "online", type: "raster", source: "online", layout: { visibility: "none" } });
  }
  layers.push(
    { id: "coast", type: "line", source: "coast", paint: { "line-color": "#7a9bb0", "line-width": 1 } },
    { id: "borders", type: "line", source: "borders", paint: { "line-color": "#9a8f7a", "line-width": 1, "line-dasharray": [4, 2] } },
    {
      id: "places",
      type: "circle",
      source: "places",
      minzoom: 3,
      paint: { "circle-color": "#6b6b6b", "circle-radius": ["interpolate", ["linear"], ["get", "population"], 100000, 2, 5000000, 4.5] },
    },
  );
  return { version: 8, sources, layers };
}

// -- state -----------------------------------------------------------------------------------------

let map: maplibregl.Map;
let party = "";
const threads = new Map<string, Json>();
const impacts = new Map<string, Json>();
const trails = new Map<string, number[][]>();
let fitted = false;
const labels: maplibregl.Marker[] = [];
const trackLabels = new Map<string, maplibregl.Marker>();

function setData(source: string, data: Json): void {
  const s = map.getSource(source) as maplibregl.GeoJSONSource | undefined;
  s?.setData(data as any);
}

async function open(session: Json): Promise<void> {
  party = session.party;
  setCsrf(session.csrf);
  $("app").hidden = false;
  $("party").textContent = `${session.name} (${session.party})`;
  $("operator").textContent = session.operator;
  $("signout").onclick = async () => {
    await post("logout");
    location.reload();
  };
  map = new maplibregl.Map({
    container: "map",
    style: await basemapStyle(session.tile_url ?? null),
    center: [20, 30],
    zoom: 2,
    attributionControl: false,
  });
  map.addControl(new maplibregl.NavigationControl(), "top-right");
  map.addControl(new maplibregl.ScaleControl(), "bottom-left");
  await new Promise<void>((resolve) => map.on("load", () => resolve()));
  for (const id of ["operations", "reservations", "others", "protected", "requested", "exits", "tracks", "trails"]) {
    map.addSource(id, { type: "geojson", data: EMPTY as any });
  }
  for (const def of LAYERS) for (const layer of def.layers) map.addLayer(layer);
  legend(Boolean(session.tile_url));
  let moved = true; // place names follow the view once it has rendered
  map.on("moveend", () => (moved = true));
  map.on("idle", () => {
    if (moved) {
      moved = false;
      placeLabels();
    }
  });
  await Promise.all([loadOperations(), loadOthers(), loadProtected(), loadThreads(), loadTracks()]);
  fit();
  live();
  setInterval(tick, 1000); // the deadline countdowns (local time only: nothing is fetched)
  document.body.dataset.ready = "true";
}

function legend(online: boolean): void {
  const ul = $("layers");
  ul.innerHTML = "";
  const defs: { id: string; label: string; color: string; layers: string[] }[] = LAYERS.map((d) => ({
    id: d.id,
    label: d.label,
    color: d.color,
    layers: d.layers.map((l) => l.id),
  }));
  defs.push({ id: "places", label: "Places (offline basemap)", color: "#6b6b6b", layers: ["places"] });
  if (online) defs.push({ id: "online", label: "Online tiles", color: "#999", layers: ["online"] });
  for (const d of defs) {
    const li = document.createElement("li");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.id = `layer-${d.id}`;
    input.checked = d.id !== "online";
    input.onchange = () => {
      for (const l of d.layers) map.setLayoutProperty(l, "visibility", input.checked ? "visible" : "none");
      if (d.id === "places") placeLabels();
      if (d.id === "tracks") for (const m of trackLabels.values()) m.getElement().hidden = !input.checked;
    };
    const label = document.createElement("label");
    label.htmlFor = input.id;
    label.innerHTML = `<span class="swatch" style="border-color:${d.color};background:${d.color}33"></span> `;
    label.append(d.label);
    li.append(input, label);
    ul.append(li);
  }
}

/** Names of the largest places in view (the map has no font files offline: labels are HTML). */
function placeLabels(): void {
  for (const m of labels.splice(0)) m.remove();
  if (map.getLayoutProperty("places", "visibility") === "none" || map.getZoom() < 3) return;
  const seen = new Set<string>();
  const found = map
    .queryRenderedFeatures({ layers: ["places"] })
    .sort((a: maplibregl.MapGeoJSONFeature, b: maplibregl.MapGeoJSONFeature) => (b.properties.population as number) - (a.properties.population as number));
  for (const f of found) {
    const name = String(f.properties.name);
    if (seen.has(name)) continue;
    seen.add(name);
    const el = document.createElement("div");
    el.className = "label place";
    el.textContent = name;
    labels.push(new maplibregl.Marker({ element: el, anchor: "left", offset: [5, 0] }).setLngLat((f.geometry as any).coordinates).addTo(map));
    if (labels.length >= 40) break;
  }
}

function fit(extra: Json[] = []): void {
  if (fitted) return;
  const pts: number[][] = [];
  for (const f of extra) positions(f.geometry, pts);
  for (const id of ["operations", "reservations", "tracks", "requested"]) {
    const src = map.getSource(id) as maplibregl.GeoJSONSource | undefined;
    const data = (src as any)?._data;
    const fc = (data?.geojson ?? data) as Json | undefined;
    for (const f of fc?.features ?? []) positions(f.geometry, pts);
  }
  if (!pts.length) return;
  const b = new maplibregl.LngLatBounds(pts[0] as [number, number], pts[0] as [number, number]);
  for (const p of pts) b.extend(p as [number, number]);
  map.fitBounds(b, { padding: 60, duration: 0, maxZoom: 9 });
  fitted = true;
}

// -- data ------------------------------------------------------------------------------------------

const operationsCache = { ops: [] as Json[], res: [] as Json[] };

async function loadOperations(): Promise<void> {
  const { operations } = await get("operations");
  const ops: Json[] = [];
  const res: Json[] = [];
  for (const op of operations) {
    const target = op.kind === "constraint" ? res : ops;
    for (const f of op.volumes.features) {
      target.push(drawable({ ...f, properties: { ...f.properties, operation: op.id, name: op.name, state: op.state } }));
    }
  }
  operationsCache.ops = ops;
  operationsCache.res = res;
  setData("operations", collection(ops));
  setData("reservations", collection(res));
  document.body.dataset.operations = String(operations.filter((o: Json) => o.kind !== "constraint").length);
}

async function loadOthers(): Promise<void> {
  const { others } = await get("others");
  const features: Json[] = [];
  for (const o of others) {
    for (const f of o.volumes.features) features.push(drawable({ ...f, properties: { ...f.properties, manager: o.manager, kind: o.kind } }));
  }
  setData("others", collection(features));
}

async function loadProtected(): Promise<void> {
  const { items } = await get("protected");
  const features: Json[] = [];
  for (const item of items) {
    if (item.held === "cancelled") continue;
    const g = item.geojson ?? {};
    for (const f of [g.volume, g.route].filter(Boolean)) features.push(drawable({ ...f, properties: { ...f.properties, name: item.name } }));
    if (item.coarse_area) features.push({ type: "Feature", geometry: item.coarse_area.geometry ?? item.coarse_area, properties: { name: item.id } });
  }
  setData("protected", collection(features));
}

async function loadTracks(): Promise<void> {
  showTracks(await get("tracks"));
}

function showTracks(fc: Json): void {
  setData("tracks", fc);
  const lines: Json[] = [];
  const present = new Set<string>();
  for (const f of fc.features) {
    const id = String(f.properties.operation);
    present.add(id);
    const trail = trails.get(id) ?? [];
    const [lng, lat] = f.geometry.coordinates;
    const last = trail[trail.length - 1];
    if (!last || last[0] !== lng || last[1] !== lat) trail.push([lng, lat]);
    if (trail.length > 120) trail.shift();
    trails.set(id, trail);
    if (trail.length > 1) lines.push({ type: "Feature", geometry: { type: "LineString", coordinates: trail }, properties: { operation: id } });
    let marker = trackLabels.get(id);
    if (!marker) {
      const el = document.createElement("div");
      el.className = "label track";
      marker = new maplibregl.Marker({ element: el, anchor: "bottom-left" }).setLngLat([lng, lat]).addTo(map);
      trackLabels.set(id, marker);
    }
    marker.setLngLat([lng, lat]);
    const alt = Math.round(f.geometry.coordinates[2] ?? 0);
    marker.getElement().textContent = `${f.properties.name || id.slice(0, 8)} ${alt} m`;
  }
  for (const [id, m] of trackLabels) {
    if (!present.has(id)) {
      m.remove();
      trackLabels.delete(id);
    }
  }
  setData("trails", collection(lines));
  document.body.dataset.tracks = String(fc.features.length);
}

async function loadThreads(): Promise<void> {
  const { threads: list } = await get("threads");
  threads.clear();
  for (const t of list) threads.set(t.id, t);
  render();
}

async function loadThread(id: string): Promise<void> {
  try {
    const t = await get(`threads/${id}`);
    delete t.entries;
    threads.set(id, t);
    render();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) console.error(e);
  }
}

// -- the line panel ----------------------------------------------------------------------------------

const OPEN = new Set(["sent", "delivered", "read"]);

function countdown(deadline: string): [string, boolean] {
  const s = Math.round((Date.parse(deadline) - Date.now()) / 1000);
  const a = Math.abs(s);
  const text = `${Math.floor(a / 3600) ? Math.floor(a / 3600) + "h " : ""}${String(Math.floor((a % 3600) / 60)).padStart(2, "0")}m ${String(a % 60).padStart(2, "0")}s`;
  return s >= 0 ? [`${text} left`, false] : [`${text} past`, true];
}

function tick(): void {
  for (const el of document.querySelectorAll<HTMLElement>(".countdown[data-deadline]")) {
    const [text, over] = countdown(el.dataset.deadline!);
    el.textContent = text;
    el.classList.toggle("overdue", over);
  }
}

function render(): void {
  const inbox = $("inbox");
  const outbox = $("outbox");
  inbox.innerHTML = "";
  outbox.innerHTML = "";
  const sorted = [...threads.values()].sort((a, b) => String(b.sent_at).localeCompare(String(a.sent_at)));
  const requested: Json[] = [];
  for (const t of sorted) {
    (t.direction === "in" ? inbox : outbox).append(threadItem(t));
    const volume = t.request?.body?.volume;
    if (volume && ["vacate", "hold_clear"].includes(t.type)) {
      const open = Object.values<Json>(t.legs).some((l) => OPEN.has(l.status) || l.status === "accepted");
      if (open) requested.push(drawable({ ...volume, properties: { ...volume.properties, thread: t.id, subject: t.subject } }));
    }
  }
  if (!inbox.children.length) inbox.innerHTML = "<li class='empty'>nothing received</li>";
  if (!outbox.children.length) outbox.innerHTML = "<li class='empty'>nothing sent</li>";
  setData("requested", collection(requested));
  if (requested.length) fit(requested);
  tick();
}

function threadItem(t: Json): HTMLElement {
  const li = document.createElement("li");
  li.className = "thread";
  li.dataset.thread = t.id;
  li.dataset.type = t.type;
  const top = document.createElement("div");
  top.className = "top";
  const type = document.createElement("span");
  type.className = "type";
  type.textContent = t.type.replace("_", " ");
  const subject = document.createElement("span");
  subject.className = "subject";
  subject.textContent = t.subject ?? "";
  const cd = document.createElement("span");
  cd.className = "countdown";
  const anyOpen = Object.values<Json>(t.legs).some((l) => OPEN.has(l.status));
  if (anyOpen) cd.dataset.deadline = t.deadline;
  top.append(type, subject, cd);
  li.append(top);
  const who = document.createElement("div");
  who.className = "leg";
  who.textContent = t.direction === "in" ? `from ${t.sender}` : `to ${t.to.join(", ")}`;
  who.textContent += ` · sent ${new Date(t.sent_at).toLocaleTimeString()} · deadline ${new Date(t.deadline).toLocaleTimeString()}`;
  li.append(who);
  for (const [recipient, leg] of Object.entries<Json>(t.legs)) {
    if (t.direction === "in" && recipient !== party) continue;
    const div = document.createElement("div");
    div.className = "leg";
    div.dataset.recipient = recipient;
    const status = document.createElement("span");
    status.className = `status status-${leg.status}`;
    status.textContent = leg.status + (leg.late ? " (late)" : "");
    div.append(`${recipient}: `, status);
    if (leg.certificate) div.append(" · certificate ✓");
    if (leg.verdict) {
      const v = document.createElement("span");
      v.className = `verdict verdict-${leg.verdict}`;
      v.textContent = ` · ${leg.verdict.replaceAll("_", " ")}`;
      div.append(v);
    }
    if (leg.alarms?.length) div.append(` · alarms: ${leg.alarms.map((a: Json) => a.type ?? a).join(", ")}`);
    li.append(div);
  }
  li.append(actions(t));
  return li;
}

function button(label: string, action: () => Promise<void>, name: string): HTMLButtonElement {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.dataset.action = name;
  b.onclick = async () => {
    b.disabled = true;
    try {
      await action();
    } catch (e) {
      alert(e instanceof Error ? e.message : String(e));
    } finally {
      b.disabled = false;
    }
  };
  return b;
}

function actions(t: Json): HTMLElement {
  const div = document.createElement("div");
  div.className = "actions";
  if (t.direction === "in") {
    const leg = t.legs[party];
    if (leg && OPEN.has(leg.status)) {
      if (["vacate", "hold_clear"].includes(t.type)) div.append(button("Preview impact", () => preview(t.id), "impact"));
      div.append(
        button("Accept", async () => {
          const view = await post(`threads/${t.id}/accept`, {});
          if (view.impact) showImpact(t.id, view.impact);
          delete view.entries;
          delete view.impact;
          threads.set(t.id, view);
          render();
          await loadOperations();
        }, "accept"),
      );
      const reason = document.createElement("input");
      reason.placeholder = "reason to decline";
      reason.dataset.field = "reason";
      div.append(
        reason,
        button("Decline", async () => {
          if (!reason.value.trim()) throw new Error("give a reason to decline");
          const view = await post(`threads/${t.id}/decline`, { reason: reason.value.trim() });
          delete view.entries;
          threads.set(t.id, view);
          render();
        }, "decline"),
      );
    }
  } else if (Object.values<Json>(t.legs).some((l) => OPEN.has(l.status))) {
    div.append(
      button("Withdraw", async () => {
        const view = await post(`threads/${t.id}/withdraw`, {});
        delete view.entries;
        threads.set(t.id, view);
        render();
      }, "withdraw"),
    );
  }
  return div;
}

async function preview(id: string): Promise<void> {
  showImpact(id, await get(`threads/${id}/impact`));
}

function showImpact(id: string, impact: Json): void {
  impacts.set(id, impact);
  const features: Json[] = [];
  const rows: string[] = [];
  for (const a of impact.aircraft ?? []) {
    if (a.position) features.push({ type: "Feature", geometry: { type: "Point", coordinates: [a.position.lng, a.position.lat] }, properties: { id: a.id } });
    if (a.exit?.geometry) features.push({ ...a.exit, properties: { ...(a.exit.properties ?? {}), id: a.id } });
    const eta = a.exit?.properties?.eta;
    const clear = a.exit?.properties?.clear_by_deadline;
    rows.push(
      `<li data-aircraft="${a.id}">${a.id.slice(0, 8)} — ${a.inside_now ? "inside now" : "outside now"}${a.watched ? ", watched" : ""}` +
        (a.exit?.geometry ? `; exit route${eta ? ` ETA ${new Date(eta).toLocaleTimeString()}` : ""}${clear === false ? " (not clear by the deadline)" : ""}` : "") +
        "</li>",
    );
  }
  setData("exits", collection(features));
  const box = $("impact");
  box.innerHTML =
    `<h3>Impact of accepting</h3><p>${(impact.aircraft ?? []).length} affected aircraft; ` +
    `${(impact.replan ?? []).length} operation(s) to re-plan</p><ul id="impact-aircraft">${rows.join("")}</ul>`;
  const pts: number[][] = [];
  for (const f of features) positions(f.geometry, pts);
  if (impact.zone?.outline) positions(impact.zone.outline, pts);
  if (pts.length) {
    const b = new maplibregl.LngLatBounds(pts[0] as [number, number], pts[0] as [number, number]);
    for (const p of pts) b.extend(p as [number, number]);
    map.fitBounds(b, { padding: 80, duration: 0, maxZoom: 10 });
  }
}

// -- live ------------------------------------------------------------------------------------------

function live(): void {
  const dot = $("live");
  const source = new EventSource("api/events");
  source.onopen = () => dot.classList.add("on");
  source.onerror = () => dot.classList.remove("on");
  const onEntry = (ev: MessageEvent) => {
    const e = JSON.parse(ev.data) as Json;
    if (e.thread) void loadThread(e.thread);
    if (["accept", "certificate", "verdict"].includes(e.entry)) void loadOperations();
    if (e.entry === "request") void loadProtected();
  };
  source.addEventListener("entry", onEntry);
  source.addEventListener("compliance", (ev: MessageEvent) => {
    const e = JSON.parse(ev.data) as Json;
    if (e.thread) void loadThread(e.thread);
    void loadOperations();
  });
  source.addEventListener("tracks", (ev: MessageEvent) => showTracks(JSON.parse(ev.data)));
}

void start();

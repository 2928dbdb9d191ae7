// GeoJSON helpers: F3548 circles (a Point with radius_m) drawn as polygons.

import type { Json } from "./api";

const EARTH_M = 6371008.8;

export function circle(lng: number, lat: number, radius: number, steps = 64): number[][] {
  const ring: number[][] = [];
  const d = radius / EARTH_M;
  const φ1 = (lat * Math.PI) / 180;
  const λ1 = (lng * Math.PI) / 180;
  for (let i = 0; i <= steps; i++) {
    const θ = (2 * Math.PI * i) / steps;
    const φ2 = Math.asin(Math.sin(φ1) * Math.cos(d) + Math.cos(φ1) * Math.sin(d) * Math.cos(θ));
    const λ2 = λ1 + Math.atan2(Math.sin(θ) * Math.sin(d) * Math.cos(φ1), Math.cos(d) - Math.sin(φ1) * Math.sin(φ2));
    ring.push([(λ2 * 180) / Math.PI, (φ2 * 180) / Math.PI]);
  }
  return ring;
}

/** A feature whose Point geometry has a radius (radius_m) becomes its circle. */
export function drawable(feature: Json): Json {
  const g = feature.geometry;
  const r = feature.properties?.radius_m;
  if (g?.type === "Point" && typeof r === "number" && r > 0) {
    return { ...feature, geometry: { type: "Polygon", coordinates: [circle(g.coordinates[0], g.coordinates[1], r)] } };
  }
  return feature;
}

export function collection(features: Json[]): Json {
  return { type: "FeatureCollection", features };
}

/** Every [lng, lat] of a geometry. */
export function positions(g: Json | null | undefined, out: number[][] = []): number[][] {
  if (!g) return out;
  if (g.type === "GeometryCollection") {
    for (const x of g.geometries) positions(x, out);
    return out;
  }
  const walk = (c: any): void => {
    if (typeof c[0] === "number") out.push(c as number[]);
    else for (const x of c) walk(x);
  };
  if (g.coordinates) walk(g.coordinates);
  return out;
}

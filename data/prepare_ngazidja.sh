#!/usr/bin/env bash
# Rebuild data/ngazidja/ from the source files recorded in data/README.md.
#
# Usage: data/prepare_ngazidja.sh [--skip-pbf] [SOURCE_DIR]
#   SOURCE_DIR defaults to ../shared/data/region/comoros relative to the repository root and
#   must hold comores-latest.osm.pbf, com_ppp_2020_UNadj.tif,
#   comoros_who_kemri_public_health_facilities_2019.csv and
#   comoros_osm_health_facilities_epsg4326.geojson.
#   --skip-pbf keeps the existing ngazidja.osm.pbf (still checked) and so needs no osmium.
# Needs osmium-tool (apt-get install osmium-tool) for the road extract, and the project's
# virtual environment (.venv, or the Python named by $PYTHON) with rasterio for the raster clip.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
skip_pbf=0
if [[ "${1:-}" == "--skip-pbf" ]]; then
  skip_pbf=1
  shift
fi
src="${1:-$here/../../shared/data/region/comoros}"
out="$here/ngazidja"
python="${PYTHON:-$here/../.venv/bin/python}"
mkdir -p "$out"

# Ngazidja (Grande Comore) bbox: west,south,east,north in degrees. complete_ways keeps every way
# that enters the box with all its nodes, so roads crossing the edge are not cut.
bbox=(43.20 -11.97 43.55 -11.33)
if [[ $skip_pbf -eq 0 ]]; then
  if ! command -v osmium > /dev/null; then
    echo "osmium not found: install osmium-tool, or pass --skip-pbf to keep the existing" \
         "ngazidja.osm.pbf" >&2
    exit 1
  fi
  osmium extract --overwrite -b "$(IFS=,; echo "${bbox[*]}")" --strategy complete_ways \
    "$src/comores-latest.osm.pbf" -o "$out/ngazidja.osm.pbf"
fi

# Population: the bbox window of WorldPop's national raster, written with the window's own
# transform (values unchanged).
"$python" "$here/clip_population.py" "$src/com_ppp_2020_UNadj.tif" \
  "$out/ngazidja_ppp_2020_UNadj_clip.tif" --bbox "${bbox[@]}"
chmod 644 "$out/ngazidja_ppp_2020_UNadj_clip.tif"

# The two facility files are copied unchanged; the loader filters and checks them in code.
for f in comoros_who_kemri_public_health_facilities_2019.csv \
         comoros_osm_health_facilities_epsg4326.geojson; do
  cp "$src/$f" "$out/$f"
  chmod 644 "$out/$f"
done

( cd "$out" && md5sum -c "$here/ngazidja.md5" )

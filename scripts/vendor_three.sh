#!/usr/bin/env bash
# Refresh berg/viewer/vendor/ from the npm registry: three.js (MIT) bundled with esbuild into
# one minified ES module holding only what the viewer imports, and its licence.
#
#     bash scripts/vendor_three.sh [THREE_VERSION]      # default: the version below
set -euo pipefail
version="${1:-0.187.0}"
here="$(cd "$(dirname "$0")/.." && pwd)"
target="$here/berg/viewer/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --silent --no-audit --no-fund "three@$version" "esbuild@0"
cat > entry.js <<'JS'
export {
  AmbientLight, BufferAttribute, BufferGeometry, Color, DirectionalLight, Group, Mesh,
  MeshLambertMaterial, OrthographicCamera, Raycaster, Scene, Vector2, Vector3, WebGLRenderer,
} from 'three';
export { OrbitControls } from 'three/addons/controls/OrbitControls.js';
JS
npx esbuild entry.js --bundle --format=esm --minify --legal-comments=none \
    --outfile="$target/three.bundle.min.js"
cp node_modules/three/LICENSE "$target/three.LICENSE"
printf 'three.js %s (MIT, see three.LICENSE), from the npm registry, bundled by\nscripts/vendor_three.sh with esbuild: only the classes berg/viewer/assets/viewer.js imports.\n' \
    "$version" > "$target/README.md"
echo "vendored three.js $version into $target"

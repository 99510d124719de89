#!/usr/bin/env bash
# Takes the web assets the map pages need from the npm registry at build time, so that the
# running app never reaches a CDN (control rooms are offline). Output: DEST/<name>/...
set -euo pipefail
DEST=${1:-map_ui/static/vendor}
PACKAGES=(
    "leaflet@1.9.4"
    "jquery@3.7.1"
    "bootstrap@5.2.2"
    "leaflet.awesome-markers@2.0.5"
    "@fortawesome/fontawesome-free@6.2.0"
    "leaflet.markercluster@1.5.3"
)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$DEST"
for spec in "${PACKAGES[@]}"; do
    name=${spec%@*}
    short=${name##*/}
    (cd "$work" && npm pack --silent "$spec" >/dev/null)
    tarball=$(ls "$work"/*.tgz)
    mkdir -p "$work/$short"
    tar -xzf "$tarball" -C "$work/$short"
    rm -f "$tarball"
    rm -rf "${DEST:?}/$short"
    mkdir -p "$DEST/$short"
    case "$short" in
        leaflet) cp -r "$work/$short/package/dist/." "$DEST/$short/" ;;
        jquery) cp "$work/$short/package/dist/jquery.min.js" "$DEST/$short/" ;;
        bootstrap)
            mkdir -p "$DEST/$short/css" "$DEST/$short/js"
            cp "$work/$short/package/dist/css/bootstrap.min.css" "$DEST/$short/css/"
            cp "$work/$short/package/dist/js/bootstrap.bundle.min.js" "$DEST/$short/js/" ;;
        leaflet.awesome-markers) cp -r "$work/$short/package/dist/." "$DEST/$short/" ;;
        fontawesome-free)
            cp -r "$work/$short/package/css" "$work/$short/package/webfonts" "$DEST/$short/" ;;
        leaflet.markercluster)
            cp "$work/$short/package/dist/leaflet.markercluster.js" \
                "$work/$short/package/dist/MarkerCluster.css" \
                "$work/$short/package/dist/MarkerCluster.Default.css" "$DEST/$short/" ;;
    esac
    cp "$work/$short/package/LICENSE"* "$DEST/$short/" 2>/dev/null || true
done
echo "web assets in $DEST"

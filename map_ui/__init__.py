"""Folium maps, pages and the static assets they need (all served locally)."""

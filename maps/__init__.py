"""Map pages: Folium elements (`maps.elements`), one view per page (`maps.views`) and the
rendered-page cache. Nothing here knows HTTP: callers pass the store, layers, rasters, query
parameters and the base path ("" or e.g. "/atlas") the page's URLs are built under."""

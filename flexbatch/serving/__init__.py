"""Reading OUT: ad-hoc SQL, the catalog, exports, FOCUS, the HTML report."""

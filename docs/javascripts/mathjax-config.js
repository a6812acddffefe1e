// MathJax reads this object when it loads (it is listed before MathJax in mkdocs.yml).
// pymdownx.arithmatex wraps maths in \( \) and \[ \] inside elements of class "arithmatex";
// only those are typeset, so dollar signs in code and prose are left alone.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
  },
};

// Starts GraphiQL with the configuration the page carries (core/http/graphiql.py); no inline script, for the CSP.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("siks-graphiql-config").textContent);
  var fetcher = GraphiQL.createFetcher({ url: config.endpoint });
  var examples = config.examples.map(function (example) {
    return "# " + example.title + "\n" + example.query;
  });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: examples.join("\n\n"),
      defaultHeaders: config.headers || undefined,
      defaultEditorToolsVisibility: true,
    })
  );
})();

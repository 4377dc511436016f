// Functions the AG Grid column definitions name ({"function": "..."}).
var dagfuncs = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});

// A value's connections to the other records (text prepared by the table page).
dagfuncs.apidashConnections = function (params) {
  var links = window.apidashLinks || {};
  var byValue = links[params.colDef.field] || {};
  return byValue[params.value];
};

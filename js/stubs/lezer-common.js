// The one thing @codemirror/commands takes from @lezer/common: node props,
// which the stub syntax tree (./language.js) never has.
export const NodeProp = { closedBy: {}, openedBy: {} };

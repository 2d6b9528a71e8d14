// State shared by the pages: the live queue snapshot, the server configuration, what the composer starts from.
export const live = { snapshot: null, config: null };
export const composerPrefill = { value: null };  // set by the gallery ("use these parameters", "init image")

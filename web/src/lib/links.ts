/** Links between pages. Kept out of the page modules: a page importing another page's module
 * would pull it (and its heavy libraries) into a shared chunk loaded with the first page. */

/** The explorer over `start`..now with `query`. */
export function explorerLink(query: string, start = "now-24h"): string {
  return `/explorer?${new URLSearchParams({ q: query, start, end: "now" })}`;
}

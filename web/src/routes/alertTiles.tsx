// Alert tiles on the dashboard: filled in once the alert API (issue 11) exists.
export function AlertTiles() {
  return null;
}

// Notification channels, routes and silences: filled in once the alert API (issue 11) exists.
export function NotificationSettings() {
  return null;
}

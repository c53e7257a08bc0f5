import { Text } from "@mantine/core";
import { type ComponentType, createElement, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

/**
 * Pages in chunks of their own, loaded on first use, without React.lazy's Suspense: a boundary
 * that showed its fallback reveals the page no sooner than 300 ms after (React's fallback
 * throttle), which held every page load for that long even when its chunk was already there.
 * A page whose chunk is loaded renders at once; else a loading line until it is.
 */
type Loader = () => Promise<{ default: ComponentType }>;
interface Entry { promise: Promise<void>; component?: ComponentType }
const entries = new Map<Loader, Entry>();

/** Start loading a page's chunk (once); resolves when it is there or has failed. */
export function preloadPage(load: Loader): Promise<void> {
  let entry = entries.get(load);
  if (!entry) {
    const made: Entry = { promise: Promise.resolve() };
    made.promise = load().then((m) => { made.component = m.default; }, () => { entries.delete(load); });
    entries.set(load, made);
    entry = made;
  }
  return entry.promise;
}

export function lazyPage(load: Loader): ComponentType {
  return function Page() {
    const { t } = useTranslation();
    const component = entries.get(load)?.component;
    const [, setLoaded] = useState(0);
    const [failed, setFailed] = useState(false);
    useEffect(() => {
      if (component) return undefined;
      let mounted = true;
      void preloadPage(load).then(() => {
        if (!mounted) return;
        if (entries.get(load)?.component) setLoaded((n) => n + 1);
        else setFailed(true);
      });
      return () => { mounted = false; };
    }, [component]);
    if (component) return createElement(component);
    return failed ? <Text role="alert" c="red">{t("common.failed")}</Text> : <Text>{t("common.loading")}</Text>;
  };
}

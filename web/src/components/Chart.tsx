import { useMantineColorScheme } from "@mantine/core";
import type { ECharts, EChartsCoreOption } from "echarts/core";
import { useEffect, useRef, useState } from "react";

// Fetched when the first chart mounts and the browser has a moment (parsing it is the longest task
// of a page load), not before the page can render: the page asks for its data and draws its first
// rows while ECharts (the largest library) arrives; charts are drawn when both are there.
let library: Promise<typeof import("./echarts")> | null = null;
function loadECharts() {
  library ??= new Promise<void>((resolve) => {
    if (typeof requestIdleCallback === "function") requestIdleCallback(() => resolve(), { timeout: 400 });
    else setTimeout(resolve, 50);
  }).then(() => import("./echarts"));
  return library;
}

interface Props {
  option: EChartsCoreOption;
  height?: number;
  label: string;
  onBrush?: (from: number, to: number) => void;
  onClick?: (params: { name?: string; value?: unknown; seriesName?: string }) => void;
}

/** One ECharts canvas (ECharts loaded on first use); `onBrush` turns on drag-to-select on the x axis (time zoom). */
export function Chart({ option, height = 200, label, onBrush, onClick }: Props) {
  const element = useRef<HTMLDivElement>(null);
  const chart = useRef<ECharts | null>(null);
  const [loaded, setLoaded] = useState(0);
  const { colorScheme } = useMantineColorScheme();
  const dark = colorScheme === "dark";
  const brush = useRef(onBrush);
  brush.current = onBrush;
  const click = useRef(onClick);
  click.current = onClick;

  useEffect(() => {
    let instance: ECharts | null = null;
    let resize: ResizeObserver | null = null;
    let gone = false;
    void loadECharts().then(({ echarts }) => {
      if (gone || !element.current) return;
      instance = echarts.init(element.current, dark ? "dark" : undefined, { renderer: "canvas" });
      const current = instance;
      chart.current = instance;
      instance.on("brushEnd", (params: unknown) => {
        const areas = (params as { areas?: { coordRange?: [number, number] }[] }).areas;
        const range = areas?.[0]?.coordRange;
        if (range && brush.current) brush.current(range[0], range[1]);
        current.dispatchAction({ type: "brush", areas: [] });
      });
      instance.on("click", (params: unknown) => click.current?.(params as { name?: string }));
      resize = new ResizeObserver(() => current.resize());
      resize.observe(element.current);
      setLoaded((n) => n + 1);
    });
    return () => {
      gone = true;
      resize?.disconnect();
      instance?.dispose();
      chart.current = null;
    };
  }, [dark]);

  useEffect(() => {
    const instance = chart.current;
    if (!instance) return;
    instance.setOption({ backgroundColor: "transparent", animation: false, ...option, ...(onBrush ? {
      brush: { xAxisIndex: 0, brushType: "lineX", brushMode: "single", transformable: false, throttleType: "debounce" },
      toolbox: { show: false },
    } : {}) }, true);
    if (onBrush) instance.dispatchAction({ type: "takeGlobalCursor", key: "brush", brushOption: { brushType: "lineX", brushMode: "single" } });
  }, [option, loaded, onBrush !== undefined]);

  return <div ref={element} role="img" aria-label={label} style={{ width: "100%", height }} />;
}

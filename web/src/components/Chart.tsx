import { useMantineColorScheme } from "@mantine/core";
import { BarChart, HeatmapChart, LineChart } from "echarts/charts";
import { BrushComponent, GridComponent, LegendComponent, ToolboxComponent, TooltipComponent, VisualMapComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";
import { useEffect, useRef } from "react";

echarts.use([BarChart, LineChart, HeatmapChart, GridComponent, TooltipComponent, LegendComponent, BrushComponent, ToolboxComponent, VisualMapComponent, CanvasRenderer]);

interface Props {
  option: echarts.EChartsCoreOption;
  height?: number;
  label: string;
  onBrush?: (from: number, to: number) => void;
  onClick?: (params: { name?: string; value?: unknown; seriesName?: string }) => void;
}

/** One ECharts canvas; `onBrush` turns on drag-to-select on the x axis (time zoom). */
export function Chart({ option, height = 200, label, onBrush, onClick }: Props) {
  const element = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  const { colorScheme } = useMantineColorScheme();
  const dark = colorScheme === "dark";
  const brush = useRef(onBrush);
  brush.current = onBrush;
  const click = useRef(onClick);
  click.current = onClick;

  useEffect(() => {
    if (!element.current) return undefined;
    const instance = echarts.init(element.current, dark ? "dark" : undefined, { renderer: "canvas" });
    chart.current = instance;
    instance.on("brushEnd", (params: unknown) => {
      const areas = (params as { areas?: { coordRange?: [number, number] }[] }).areas;
      const range = areas?.[0]?.coordRange;
      if (range && brush.current) brush.current(range[0], range[1]);
      instance.dispatchAction({ type: "brush", areas: [] });
    });
    instance.on("click", (params: unknown) => click.current?.(params as { name?: string }));
    const resize = new ResizeObserver(() => instance.resize());
    resize.observe(element.current);
    return () => {
      resize.disconnect();
      instance.dispose();
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
  }, [option, dark, onBrush !== undefined]);

  return <div ref={element} role="img" aria-label={label} style={{ width: "100%", height }} />;
}

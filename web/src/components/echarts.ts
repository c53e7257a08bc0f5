// ECharts with only the parts the console draws; loaded on demand by Chart.tsx (its own chunk,
// fetched while the page's data loads instead of before the page can render).
import { BarChart, HeatmapChart, LineChart } from "echarts/charts";
import { BrushComponent, GridComponent, LegendComponent, ToolboxComponent, TooltipComponent, VisualMapComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([BarChart, LineChart, HeatmapChart, GridComponent, TooltipComponent, LegendComponent, BrushComponent, ToolboxComponent, VisualMapComponent, CanvasRenderer]);

export { echarts };

// ECharts in React: one instance per element, options merged on update so refreshes do not flicker.
import { BarChart, GraphChart, LineChart, ScatterChart } from "echarts/charts";
import { DataZoomComponent, GridComponent, LegendComponent, MarkAreaComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import type { EChartsCoreOption, ECElementEvent } from "echarts/core";
import { CanvasRenderer, SVGRenderer } from "echarts/renderers";
import { useEffect, useRef } from "react";

echarts.use([
  BarChart, GraphChart, LineChart, ScatterChart,
  DataZoomComponent, GridComponent, LegendComponent, MarkAreaComponent, TooltipComponent,
  CanvasRenderer, SVGRenderer,
]);

export const AXIS = { axisLine: { lineStyle: { color: "#30363d" } }, splitLine: { lineStyle: { color: "#21262d" } }, axisLabel: { color: "#8b949e", hideOverlap: true } };
export const TOOLTIP = { backgroundColor: "#161b22", borderColor: "#30363d", textStyle: { color: "#e6edf3" } };

interface Props {
  option: EChartsCoreOption;
  height?: number | string;
  renderer?: "canvas" | "svg";
  onClick?: (e: ECElementEvent) => void;
  testId?: string;
  /** Replace the whole option instead of merging (needed when series come and go). */
  replace?: boolean;
}

export function Chart({ option, height = 240, renderer = "canvas", onClick, testId, replace = true }: Props) {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  const clickRef = useRef(onClick);
  clickRef.current = onClick;

  useEffect(() => {
    const instance = echarts.init(el.current!, undefined, { renderer });
    chart.current = instance;
    instance.on("click", (e) => clickRef.current?.(e as ECElementEvent));
    const observer = new ResizeObserver(() => instance.resize());
    observer.observe(el.current!);
    return () => {
      observer.disconnect();
      instance.dispose();
      chart.current = null;
    };
  }, [renderer]);

  useEffect(() => {
    chart.current?.setOption(option, { notMerge: replace });
  }, [option, replace]);

  return <div ref={el} className="chart" style={{ height }} data-testid={testId} />;
}

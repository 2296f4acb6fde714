package console

import (
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// chartMinutes is how far back the activity charts look.
const chartMinutes = 60

// chart is a bar chart of one count per minute, laid out for an inline
// SVG: the template draws one rect per bar.
type chart struct {
	Title  string
	Class  string // the bars' CSS class
	Max    int64
	Total  int64
	Width  int
	Height int
	Bars   []bar
}

type bar struct {
	X, Y, W, H int
	Label      string // the bar's tooltip: minute and count
}

// activityCharts turns per-minute counts into the two charts of the last
// hour, delivered and failed, ending with the minute now falls in.
func activityCharts(counts []outbox.MinuteCounts, now time.Time) (delivered, failed chart) {
	last := now.UTC().Truncate(time.Minute)
	first := last.Add(-(chartMinutes - 1) * time.Minute)
	d := make([]int64, chartMinutes)
	f := make([]int64, chartMinutes)
	for _, c := range counts {
		i := int(c.Minute.Sub(first) / time.Minute)
		if i < 0 || i >= chartMinutes {
			continue
		}
		d[i] += c.Delivered
		f[i] += c.Failed
	}
	return barChart("Delivered per minute", "delivered", d, first), barChart("Failed per minute", "failed", f, first)
}

func barChart(title, class string, values []int64, first time.Time) chart {
	const barW, gap, height = 9, 1, 80
	ch := chart{Title: title, Class: class, Width: len(values) * (barW + gap), Height: height}
	for _, v := range values {
		ch.Max = max(ch.Max, v)
		ch.Total += v
	}
	for i, v := range values {
		h := 0
		if ch.Max > 0 && v > 0 {
			h = max(1, int(v*height/ch.Max))
		}
		minute := first.Add(time.Duration(i) * time.Minute)
		ch.Bars = append(ch.Bars, bar{
			X: i * (barW + gap), Y: height - h, W: barW, H: h,
			Label: minute.Format("15:04") + " UTC: " + count(v),
		})
	}
	return ch
}

package metrics

// Tee returns a Sink that records into every one of sinks, in order: the
// shape's own sink and a StatsD agent, say. Each driver keeps its own
// buffer, so one whose backend is down does not hold up the others.
func Tee(sinks ...Sink) Sink { return tee(sinks) }

type tee []Sink

func (t tee) Gauge(name string, value float64, dims ...Dimension) {
	for _, s := range t {
		s.Gauge(name, value, dims...)
	}
}

func (t tee) Count(name string, delta float64, dims ...Dimension) {
	for _, s := range t {
		s.Count(name, delta, dims...)
	}
}

package papereval

// ReportOptions place the report's figures.
type ReportOptions struct {
	ImgDir  string // where PNGs are written
	ImgRel  string // how the Markdown links them
	CSVName string // the results file named in the report
}

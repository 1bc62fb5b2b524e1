/* The step timeline: the trace's spans in the step's window, clipped to it, one lane
 * per role, each span a rectangle with its length in a tooltip (<title>). */
#include "timeline_svg.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench_fail.h"

enum { LANE_LOOP, LANE_FETCH, LANE_DOWN, LANE_UPDATE, LANE_UP, LANE_COUNT };

static const char *const bench_lane_labels[LANE_COUNT] = {
    [LANE_LOOP] = "loop", [LANE_FETCH] = "fetches", [LANE_DOWN] = "copies down",
    [LANE_UPDATE] = "host update", [LANE_UP] = "copies up",
};

/* The picture's geometry, in SVG units (pixels). */
enum { SVG_WIDTH = 1200, SVG_LEFT = 110, SVG_RIGHT = 20, SVG_TOP = 50, LANE_HEIGHT = 26,
       LANE_GAP = 10 };

typedef struct bench_svg {
    FILE *out;
    double begin, end; /* the step, seconds */
} bench_svg;

static double bench_svg_x(const bench_svg *svg, double seconds)
{
    double width = SVG_WIDTH - SVG_LEFT - SVG_RIGHT;
    return SVG_LEFT + width * (seconds - svg->begin) / (svg->end - svg->begin);
}

/* One span in `lane`, clipped to the step; `half` 0 fills the lane, 1 and 2 its top
 * and bottom halves (two kinds of work sharing a lane). */
static void bench_svg_span(const bench_svg *svg, int lane, int half, double begin, double end,
                           const char *color, const char *what)
{
    begin = begin < svg->begin ? svg->begin : begin;
    end = end > svg->end ? svg->end : end;
    if (end <= begin)
        return;
    double x = bench_svg_x(svg, begin), width = bench_svg_x(svg, end) - x;
    double y = SVG_TOP + lane * (LANE_HEIGHT + LANE_GAP), height = LANE_HEIGHT;
    if (half) {
        height = LANE_HEIGHT / 2.0;
        y += (half - 1) * height;
    }
    fprintf(svg->out,
            "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"%s\">"
            "<title>%s: %.3f ms at %.3f ms</title></rect>\n",
            x, y, width < 0.5 ? 0.5 : width, height, color, what, 1e3 * (end - begin),
            1e3 * (begin - svg->begin));
}

/* The lanes' labels and backgrounds, the time axis with ticks every 1, 2 or 5 x 10^k
 * ms (about ten), and the legend. */
static void bench_svg_frame(const bench_svg *svg, int height)
{
    FILE *out = svg->out;
    double axis_y = SVG_TOP + LANE_COUNT * (LANE_HEIGHT + LANE_GAP);
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%d\" y=\"20\" font-size=\"14\">zo-bench engine: one step, %.2f ms "
            "(hover a span for its length)</text>\n",
            SVG_WIDTH, height, SVG_LEFT, 1e3 * (svg->end - svg->begin));
    for (int lane = 0; lane < LANE_COUNT; lane++) {
        double y = SVG_TOP + lane * (LANE_HEIGHT + LANE_GAP);
        fprintf(out,
                "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"#f2f2f2\"/>\n"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                SVG_LEFT, y, SVG_WIDTH - SVG_LEFT - SVG_RIGHT, LANE_HEIGHT, SVG_LEFT - 8,
                y + LANE_HEIGHT / 2.0 + 4, bench_lane_labels[lane]);
    }
    double span_ms = 1e3 * (svg->end - svg->begin), tick = pow(10.0, floor(log10(span_ms / 10)));
    if (span_ms / tick > 50)
        tick *= 5;
    else if (span_ms / tick > 20)
        tick *= 2;
    fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"black\"/>\n", SVG_LEFT,
            axis_y, SVG_WIDTH - SVG_RIGHT, axis_y);
    for (double ms = 0.0; ms <= span_ms + 1e-9; ms += tick) {
        double x = bench_svg_x(svg, svg->begin + 1e-3 * ms);
        fprintf(out,
                "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" stroke=\"black\"/>"
                "<text x=\"%.2f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                x, axis_y, x, axis_y + 5, x, axis_y + 18, ms);
    }
    fprintf(out, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">ms</text>\n", SVG_LEFT - 8,
            axis_y + 18);
    static const struct {
        const char *color, *label;
    } legend[] = {{"#4c78a8", "forward"},      {"#1f3b73", "backward"},
                  {"#e45756", "stall in fetch"}, {"#9d9d9d", "zo_engine_step"},
                  {"#f58518", "fetch copy"},   {"#54a24b", "gradients down"},
                  {"#b279a2", "grad stats"},   {"#72b7b2", "Adam"},
                  {"#eeca3b", "weights up"}};
    double x = SVG_LEFT, y = axis_y + 38;
    for (size_t k = 0; k < sizeof legend / sizeof *legend; k++, x += 115)
        fprintf(out,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                x, y - 10, legend[k].color, x + 16, y, legend[k].label);
}

/* The loop's own spans, and zo_engine_step after the last of them. */
static void bench_svg_loop(const bench_svg *svg, const bench_loop_timeline *loop)
{
    double last = loop->step_began;
    for (size_t k = 0; k < loop->count; k++) {
        const bench_loop_span *span = &loop->spans[k];
        const char *color = span->stall ? "#e45756" : span->backward ? "#1f3b73" : "#4c78a8";
        char what[64];
        snprintf(what, sizeof what, "layer %zu %s%s", span->layer,
                 span->backward ? "backward" : "forward", span->stall ? ": stall in fetch" : "");
        bench_svg_span(svg, LANE_LOOP, 0, span->begin, span->end, color, what);
        last = span->end > last ? span->end : last;
    }
    bench_svg_span(svg, LANE_LOOP, 0, last, loop->step_ended, "#9d9d9d", "zo_engine_step");
}

/* Where each engine track is drawn, found by a word of the name the trace gives it;
 * the two host-update tracks share a lane, one half each. The engine's own loop
 * spans are not drawn: the bench draws the loop itself. */
static const struct {
    const char *word;
    int lane, half;
    const char *color;
} bench_svg_tracks[] = {
    {"fetches", LANE_FETCH, 0, "#f58518"},   {"d2h", LANE_DOWN, 0, "#54a24b"},
    {"grad stats", LANE_UPDATE, 1, "#b279a2"}, {"Adam", LANE_UPDATE, 2, "#72b7b2"},
    {"h2d", LANE_UP, 0, "#eeca3b"},
};

static int bench_svg_track_of(const char *track_name)
{
    for (int k = 0; k < (int)(sizeof bench_svg_tracks / sizeof *bench_svg_tracks); k++)
        if (strstr(track_name, bench_svg_tracks[k].word))
            return k;
    return -1;
}

/* The engine's spans from the trace; adds up the fetch stream's busy time in the step. */
static int bench_svg_engine(const bench_svg *svg, json_t *root, double *fetch_busy)
{
    json_t *events = json_object_get(root, "traceEvents");
    json_t *origin = json_object_get(json_object_get(root, "otherData"), "clock_origin_seconds");
    if (!json_is_array(events) || !json_is_number(origin))
        return bench_fail("the engine's trace has no traceEvents or clock_origin_seconds");
    enum { MAX_TRACKS = 32 };
    const char *names[MAX_TRACKS] = {NULL};
    size_t k;
    json_t *event;
    json_array_foreach(events, k, event) {
        json_int_t tid = json_integer_value(json_object_get(event, "tid"));
        const char *ph = json_string_value(json_object_get(event, "ph"));
        if (ph && strcmp(ph, "M") == 0 && tid >= 0 && tid < MAX_TRACKS)
            names[tid] = json_string_value(json_object_get(json_object_get(event, "args"), "name"));
    }
    double zero = json_number_value(origin);
    *fetch_busy = 0.0;
    json_array_foreach(events, k, event) {
        json_int_t tid = json_integer_value(json_object_get(event, "tid"));
        const char *ph = json_string_value(json_object_get(event, "ph"));
        if (!ph || strcmp(ph, "X") != 0 || tid < 0 || tid >= MAX_TRACKS || !names[tid])
            continue;
        int track = bench_svg_track_of(names[tid]);
        if (track < 0)
            continue;
        int lane = bench_svg_tracks[track].lane;
        double begin = zero + 1e-6 * json_number_value(json_object_get(event, "ts"));
        double end = begin + 1e-6 * json_number_value(json_object_get(event, "dur"));
        if (end <= svg->begin || begin >= svg->end)
            continue;
        const char *name = json_string_value(json_object_get(event, "name"));
        bench_svg_span(svg, lane, bench_svg_tracks[track].half, begin, end,
                       bench_svg_tracks[track].color, name ? name : names[tid]);
        if (lane == LANE_FETCH) /* one stream: its copies do not overlap */
            *fetch_busy += (end < svg->end ? end : svg->end) - (begin > svg->begin ? begin : svg->begin);
    }
    return 0;
}

int bench_timeline_svg_write(const char *svg_path, const char *trace_path,
                             const bench_loop_timeline *loop, double *fetch_busy_seconds)
{
    json_error_t error;
    json_t *root = json_load_file(trace_path, 0, &error);
    if (!root)
        return bench_fail("--timeline-svg: cannot read the engine's trace %s: %s", trace_path,
                          error.text);
    bench_svg svg = {fopen(svg_path, "w"), loop->step_began, loop->step_ended};
    int result = -1;
    if (!svg.out) {
        bench_fail("--timeline-svg %s: %s", svg_path, strerror(errno));
        goto done;
    }
    bench_svg_frame(&svg, SVG_TOP + LANE_COUNT * (LANE_HEIGHT + LANE_GAP) + 60);
    bench_svg_loop(&svg, loop);
    if (bench_svg_engine(&svg, root, fetch_busy_seconds) < 0)
        goto done;
    fprintf(svg.out, "</svg>\n");
    result = 0;
done:
    if (svg.out && fclose(svg.out) != 0 && result == 0)
        result = bench_fail("--timeline-svg %s: cannot write: %s", svg_path, strerror(errno));
    json_decref(root);
    return result;
}

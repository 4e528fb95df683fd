#!/usr/bin/env python3
"""Engine benchmark: runs scenarios in fresh processes, compares against
`vips copy` in the same run, prints one JSON document.  Timings are medians of
several runs; ratios are what to read (the machine is noisy)."""
import json, os, statistics, subprocess, sys, tempfile

build = sys.argv[1]
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
cache = os.path.join(root, "build", ".bench-inputs")
os.makedirs(cache, exist_ok=True)
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def sh(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def source_photo():
    # the largest real photo available: a 6 MP film scan, else a test copy
    shared = os.path.join(root, "..", "shared", "testimages",
                          "studio_kodak_girl_facepaint_seamless.jpg")
    return shared if os.path.exists(shared) else os.path.join(root, "tests", "data", "mary_900.jpg")


def make_inputs():
    src = source_photo()
    out = {}
    for mp, w, h in ((6, 3000, 2000), (24, 6000, 4000)):
        path = os.path.join(cache, f"portrait_{mp}mp.jpg")
        if not os.path.exists(path):
            sh(["vips", "thumbnail", src, path + "[Q=92]", str(w), "--height", str(h),
                "--size", "force"])
        out[mp] = path
    return out


def skin_portrait():
    # a 24 MP close portrait with skin to even (the face fills ~1/3 of the
    # frame): a real 2.4 MP studio photo upscaled with vips
    shared = os.path.join(root, "..", "shared", "testimages", "studio_canada_110m_flash.jpg")
    src = shared if os.path.exists(shared) else os.path.join(root, "tests", "data",
                                                              "london_012_800.jpg")
    path = os.path.join(cache, "skin_portrait_24mp.jpg")
    if not os.path.exists(path):
        sh(["vips", "thumbnail", src, path + "[Q=92]", "4243", "--height", "5657", "--size",
            "force"])
    return path


def eyes_input():
    """A 24 MP portrait with open eyes and teeth: city_smile (tests/data)
    upscaled 5x with vips (6000x3970)."""
    path = os.path.join(cache, "eyes_teeth_24mp.jpg")
    if not os.path.exists(path):
        sh(["vips", "resize", os.path.join(root, "tests", "data", "city_smile.jpg"),
            path + "[Q=92]", "5"])
    return path


def feature_plugins(tmp):
    """Eye Vessels, White Teeth, Eye Brilliance on the 24 MP portrait, face
    analysis excluded (its own stage), against `vips copy` of the same file
    in the same run."""
    inp = eyes_input()
    out = os.path.join(tmp, "out.jpg")
    vips_ms, _ = median_of(["vips", "copy", inp, out + "[Q=95,subsample_mode=off]"])
    entry = {"input": os.path.basename(inp), "vips_copy_ms": round(vips_ms, 1),
             "load_average": os.getloadavg()[0]}
    for name, task in (("eye_vessels", {"Plugin": "Eye Vessels", "Alpha1": 1}),
                       ("white_teeth", {"Plugin": "White Teeth", "Alpha1": 1, "Alpha2": 1}),
                       ("eye_brilliance", {"Plugin": "Eye Brilliance", "Alpha1": 1})):
        pl = payload([task], tmp, name)
        samples = [engine_stages(inp, pl, out) for _ in range(RUNS)]
        ms = [sum(v for k, v in s["stages"] if k.startswith("processing:")) for s in samples]
        cpu = [sum(v for k, v in s["stages_cpu"] if k.startswith("processing:")) for s in samples]
        med = statistics.median(ms)
        entry[name] = {"plugin_ms_median": round(med, 1), "plugin_ms_min": round(min(ms), 1),
                       "plugin_cpu_ms_median": round(statistics.median(cpu), 1),
                       "ratio_vs_vips_copy": round(med / vips_ms, 3)}
    return entry


def timed(cmd):
    """Wall seconds and max RSS (MB) of one command, via GNU time."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", tf.name] + cmd, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall, rss = tf.read().split()[-2:]
        return float(wall), int(rss) / 1024.0


def median_of(cmd):
    runs = [timed(cmd) for _ in range(RUNS)]
    return statistics.median(r[0] for r in runs) * 1000, max(r[1] for r in runs)


def payload(tasks, tmp, name):
    path = os.path.join(tmp, name + ".json")
    with open(path, "w") as f:
        json.dump({"mode": "professional", "tasks": tasks}, f)
    return path


def engine_stages(inp, pl, out, warm=False):
    cmd = [os.path.join(build, "bench", "engine_bench"), inp, pl, out] + (["--warm"] if warm else [])
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(res.stdout)


def shiny_portrait_24mp():
    """A 24 MP portrait with shiny skin (studio_london_038 upscaled), for the skin plugins."""
    path = os.path.join(cache, "shiny_portrait_24mp.jpg")
    if not os.path.exists(path):
        shared = os.path.join(root, "..", "shared", "testimages", "studio_london_038_smiling.jpg")
        src = shared if os.path.exists(shared) else os.path.join(root, "tests", "data",
                                                                 "london_038_800.jpg")
        sh(["vips", "thumbnail", src, path + "[Q=92]", "4900", "--height", "4900", "--size",
            "force"])
    return path


def mattifier_case(tmp):
    """Mattifier at Blend 1 on a 24 MP portrait, face analysis excluded, next to `vips copy`
    of the same file in the same run."""
    inp = shiny_portrait_24mp()
    out = os.path.join(tmp, "matte.jpg")
    vips_ms, _ = median_of(["vips", "copy", inp, out + "[Q=95,subsample_mode=off]"])
    pl = payload([{"Plugin": "Mattifier", "Alpha1": 1}], tmp, "matte")
    samples = [engine_stages(inp, pl, out) for _ in range(RUNS)]
    plugin_ms = [sum(v for k, v in s["stages"] if k.startswith("processing:")) for s in samples]
    analysis_ms = [sum(v for k, v in s["stages"] if k.startswith("analysing:")) for s in samples]
    med = statistics.median(plugin_ms)
    return {"input": os.path.basename(inp), "vips_copy_ms": round(vips_ms, 1),
            "plugin_ms_median": round(med, 1), "plugin_ms_min": round(min(plugin_ms), 1),
            "face_analysis_ms_median": round(statistics.median(analysis_ms), 1),
            "plugin_vs_vips_copy": round(med / vips_ms, 3),
            "peak_rss_mb": max(s["peak_rss_mb"] for s in samples),
            "stages": samples[-1]["stages"]}


def main():
    inputs = make_inputs()
    report = {"benchmark": "engine", "runs": RUNS, "cpus": os.cpu_count(), "sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        empty = payload([], tmp, "empty")
        cc = payload([{"Plugin": "Color Correction", "User Params": {
            "AI": {"Color Correction Mode": "Full"}, "Basic": {"Enable Basic": True}}}], tmp, "cc")
        crop = payload([{"Plugin": "Crop", "User Params": {"AutoStraightenMode": "AI",
                                                           "AspectRatio": "4 : 5"}}], tmp, "crop")
        rotate = payload([{"Plugin": "Crop", "User Params": {"Angle": 3.5}}], tmp, "rotate")
        lift = payload([{"Plugin": "Face Lifting", "Face Lifting": 1, "Double Chin Correction": 1}],
                       tmp, "lift")
        for mp, inp in inputs.items():
            out = os.path.join(tmp, "out.jpg")
            vips_ms, vips_rss = median_of(["vips", "copy", inp, out + "[Q=95,subsample_mode=off]"])
            cli_ms, cli_rss = median_of([os.path.join(build, "retouch"), "-q", "-p", empty,
                                         "-o", out, inp])
            entry = {
                "input": os.path.basename(inp),
                "vips_copy_ms": round(vips_ms, 1), "vips_copy_rss_mb": round(vips_rss, 1),
                "retouch_empty_ms": round(cli_ms, 1), "retouch_empty_rss_mb": round(cli_rss, 1),
                "ratio_vs_vips_copy": round(cli_ms / vips_ms, 3),
                "stages_empty": engine_stages(inp, empty, out),
            }
            # a server worker's view: the same job run a second time in one
            # process (models loaded, buffers recycled); vips copy's time
            # still includes its process start, so this ratio flatters us a
            # little
            warm = [engine_stages(inp, empty, out, True)["job_ms"] for _ in range(RUNS)]
            entry["retouch_empty_warm_job_ms"] = round(statistics.median(warm), 1)
            entry["warm_ratio_vs_vips_copy"] = round(statistics.median(warm) / vips_ms, 3)
            for name, pl in (("color_correction_full", cc), ("crop_ai_4x5", crop),
                             ("crop_rotate_3_5deg", rotate), ("face_lifting", lift)):
                samples = [engine_stages(inp, pl, out) for _ in range(RUNS)]
                warm_samples = [engine_stages(inp, pl, out, True) for _ in range(RUNS)]
                plugin_ms, analysis_ms = [], []
                for s in samples:
                    plugin_ms.append(sum(v for k, v in s["stages"] if k.startswith("processing:")))
                    analysis_ms.append(sum(v for k, v in s["stages"] if k.startswith("analysing:")))
                warm_ms = [sum(v for k, v in w["stages"] if k.startswith("processing:"))
                           for w in warm_samples]
                entry[name] = {"plugin_ms_median": round(statistics.median(plugin_ms), 1),
                               "plugin_ms_warm_median": round(statistics.median(warm_ms), 1),
                               "face_analysis_ms_median": round(statistics.median(analysis_ms), 1),
                               "peak_rss_mb": max(s["peak_rss_mb"] for s in samples),
                               "stages": samples[-1]["stages"]}
            # peer for the rotation: libvips's own rotate (bilinear by
            # default) of the decoded image, from a .v file (no decode)
            raw = os.path.join(tmp, "raw.v")
            sh(["vips", "copy", inp, raw])
            rot_ms, _ = median_of(["vips", "rotate", raw, os.path.join(tmp, "rot.v"), "3.5"])
            entry["vips_rotate_3_5deg_ms"] = round(rot_ms, 1)
            entry["crop_rotate_vs_vips_rotate"] = round(
                entry["crop_rotate_3_5deg"]["plugin_ms_median"] / rot_ms, 3)
            os.unlink(raw)
            report["sizes"][f"{mp}mp"] = entry
        # the tone plugins (Skin Tone, Dodge Burn, Portrait Volumes) on a
        # 24 MP portrait, face analysis excluded, beside vips copy of the
        # same file in the same run
        inp = skin_portrait()
        out = os.path.join(tmp, "out.jpg")
        vips_ms, _ = median_of(["vips", "copy", inp, out + "[Q=95,subsample_mode=off]"])
        tone = {"input": os.path.basename(inp), "vips_copy_ms": round(vips_ms, 1)}
        for name, task in (("skin_tone", {"Plugin": "Skin Tone", "Alpha1": 1}),
                           ("dodge_burn", {"Plugin": "Dodge Burn", "Alpha1": 1, "Alpha2": 0.5}),
                           ("portrait_volumes", {"Plugin": "Portrait Volumes", "Alpha1": 1})):
            pl = payload([task], tmp, name)
            samples = [engine_stages(inp, pl, out) for _ in range(RUNS)]
            plugin_ms = [sum(v for k, v in s["stages"] if k.startswith("processing:"))
                         for s in samples]
            analysis_ms = [sum(v for k, v in s["stages"] if k.startswith("analysing:"))
                           for s in samples]
            med = statistics.median(plugin_ms)
            tone[name] = {"plugin_ms_median": round(med, 1),
                          "ratio_vs_vips_copy": round(med / vips_ms, 3),
                          "face_analysis_ms_median": round(statistics.median(analysis_ms), 1),
                          "peak_rss_mb": max(s["peak_rss_mb"] for s in samples)}
        report["tone_plugins_24mp"] = tone
        report["eyes_teeth_24mp"] = feature_plugins(tmp)
        report["mattifier_24mp"] = mattifier_case(tmp)
    print(json.dumps(report, indent=1))


main()

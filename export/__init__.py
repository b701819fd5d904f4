"""Export: weight ROMs in every memory-file format, the manifest that says what each bit means, the
reader that parses them back, and the ``hwsim export`` / ``hwsim synth`` back ends.

docs/rom_format.md describes the layout and the files; docs/datapath.md the arithmetic.
"""

from ._export import DEFAULT_TOP, ExportResult, check_identifier, check_output_path, write_export
from ._image import IMAGE_FILE, load_image
from ._formats import FORMATS, check_formats, format_words, parse_words, read_words
from ._manifest import MANIFEST_NAME, MANIFEST_VERSION, build_manifest, decode_with_manifest, read_manifest, read_rom
from ._pack import (
    ROLES,
    Rom,
    Segment,
    pack_codes,
    pack_codes_naive,
    pack_ints,
    rom_images,
    unpack_codes,
    word_bytes,
    words_from_ints,
    words_to_ints,
)
from ._board import BOARDS, BoardReport, build_board
from ._synth import TARGETS, SynthReport, synthesize

__all__ = [
    "BOARDS",
    "BoardReport",
    "build_board",
    "DEFAULT_TOP",
    "ExportResult",
    "FORMATS",
    "IMAGE_FILE",
    "MANIFEST_NAME",
    "MANIFEST_VERSION",
    "ROLES",
    "Rom",
    "Segment",
    "SynthReport",
    "TARGETS",
    "build_manifest",
    "check_formats",
    "check_identifier",
    "check_output_path",
    "decode_with_manifest",
    "format_words",
    "load_image",
    "pack_codes",
    "pack_codes_naive",
    "pack_ints",
    "parse_words",
    "read_manifest",
    "read_rom",
    "read_words",
    "rom_images",
    "synthesize",
    "unpack_codes",
    "word_bytes",
    "words_from_ints",
    "words_to_ints",
    "write_export",
]

//===- VizCommand.cpp - attnc viz -----------------------------------------===//
//
// Draws the mask as a PNG: one pixel per (q, k) pair for short sequences, one cell per
// (query tile, key tile) coloured EMPTY / PARTIAL / FULL for long ones, and one panel per
// head when the pattern depends on the head. Pairs come from the CPU reference's keep
// matrix; tile classes are the kernel's (the generated classifier run on the host,
// TileMap.h). Data-dependent patterns use --input files and constants or seeded random
// inputs. Pictures carry a title, tick labels in tokens on both axes and a legend, in a
// small built-in bitmap font (BitmapFont.h).
//
//===----------------------------------------------------------------------===//
#include "BitmapFont.h"
#include "Commands.h"
#include "TileMap.h"
#include "ToolSupport.h"

#include "attnc/compiler/Codegen.h"
#include "attnc/reference/Random.h"

#include <fmt/format.h>
#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace attnc::tools {
namespace {

struct VizOptions {
  std::string file, attention, output = "mask.png", level = "auto";
  int batch = 1, heads = 1, kvHeads = 0, qLen = 256, kvLen = 0, headDim = 64;
  int batchIndex = 0, headIndex = -1; ///< which b to draw; one h, or -1 for every head
  int tileQ = 128, tileK = 64, maxHeads = 16;
  std::vector<std::string> defines, params, inputs;
  uint64_t seed = 1;
};

struct Rgb {
  uint8_t r, g, b;
};
constexpr Rgb kBackground{255, 255, 255}, kKept{31, 78, 140}, kEmpty{235, 235, 235},
    kPartial{242, 153, 52}, kFull{31, 78, 140}, kFrame{180, 180, 180}, kText{40, 40, 40},
    kTick{110, 110, 110};

// Text is drawn at twice the font's size: 10x14-pixel glyphs, 12-pixel advance.
constexpr int kFontScale = 2;
constexpr int kAdvance = (kGlyphWidth + 1) * kFontScale;
constexpr int kCapHeight = 7 * kFontScale;
constexpr int kLineHeight = kGlyphRows * kFontScale + 6;

int textWidth(const std::string &text) {
  return text.empty() ? 0 : int(text.size()) * kAdvance - kFontScale;
}

class Image {
public:
  Image(int width, int height)
      : width_(width), height_(height), pixels_(size_t(width) * height * 3) {
    fill(0, 0, width, height, kBackground);
  }
  void fill(int x0, int y0, int w, int h, Rgb c) {
    for (int y = std::max(0, y0); y < std::min(height_, y0 + h); ++y)
      for (int x = std::max(0, x0); x < std::min(width_, x0 + w); ++x) {
        uint8_t *p = &pixels_[(size_t(y) * width_ + x) * 3];
        p[0] = c.r, p[1] = c.g, p[2] = c.b;
      }
  }
  /// Draws `text` with its top-left corner at (x, y); rows of descenders go below the
  /// cap height.
  void text(int x, int y, const std::string &text, Rgb c) {
    for (char ch : text) {
      const uint8_t *rows = glyphRows(ch);
      for (int r = 0; r < kGlyphRows; ++r)
        for (int col = 0; col < kGlyphWidth; ++col)
          if (rows[r] >> (kGlyphWidth - 1 - col) & 1)
            fill(x + col * kFontScale, y + r * kFontScale, kFontScale, kFontScale, c);
      x += kAdvance;
    }
  }
  bool writePng(const std::string &path, std::string &error) const {
    FILE *f = std::fopen(path.c_str(), "wb");
    if (!f) {
      error = "cannot write '" + path + "'";
      return false;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
      png_destroy_write_struct(&png, &info);
      std::fclose(f);
      error = "libpng failed writing '" + path + "'";
      return false;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, width_, height_, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height_; ++y)
      png_write_row(png, const_cast<png_bytep>(&pixels_[size_t(y) * width_ * 3]));
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    bool ok = std::fclose(f) == 0;
    if (!ok)
      error = "cannot write '" + path + "'";
    return ok;
  }

private:
  int width_, height_;
  std::vector<uint8_t> pixels_;
};

// The smallest power-of-two multiple of `unit` tokens whose ticks are at least `minPixels`
// apart; powers of two fit the lengths people use and tile boundaries.
int tickStep(int unit, double pixelsPerToken, int minPixels) {
  int64_t step = unit;
  while (double(step) * pixelsPerToken < minPixels && step < (int64_t(1) << 30))
    step *= 2;
  return int(step);
}

std::string shortened(const std::string &text, size_t limit) {
  return text.size() <= limit ? text : text.substr(0, limit - 3) + "...";
}

/// Pairs a token-level picture may hold (one RGB pixel each at least: about 200 MB).
constexpr double kMaxTokenPixels = 6.4e7;

int vizCommand(const VizOptions &o) {
  ProgramBundle bundle;
  if (!loadProgram(o.file, o.defines, o.attention, bundle))
    return kExitInputError;
  const dsl::AttentionDecl &attention = *bundle.attention;
  std::vector<reference::ParamBinding> params;
  if (!parseParamBindings(attention, o.params, params))
    return kExitUsage;
  std::vector<InputBinding> inputBindings;
  if (!parseInputBindings(attention, o.inputs, inputBindings))
    return kExitUsage;

  reference::ProblemShape shape;
  shape.batch = o.batch;
  shape.heads = o.heads;
  shape.kvHeads = o.kvHeads > 0 ? o.kvHeads : o.heads;
  shape.qLen = o.qLen;
  shape.kvLen = o.kvLen > 0 ? o.kvLen : o.qLen;
  shape.headDim = o.headDim;
  if (shape.batch < 1 || shape.heads < 1 || shape.qLen < 1 || shape.kvLen < 1 ||
      shape.heads % shape.kvHeads || o.tileQ < 1 || o.tileK < 1) {
    std::cerr << "attnc: error: need batch, heads, lengths, tiles >= 1 and heads divisible by "
                 "kv-heads\n";
    return kExitUsage;
  }
  if (o.batchIndex < 0 || o.batchIndex >= shape.batch) {
    std::cerr << "attnc: error: --batch-index " << o.batchIndex << " is not in [0, " << shape.batch
              << ") (--batch " << shape.batch << ")\n";
    return kExitUsage;
  }
  if (o.headIndex < -1 || o.headIndex >= shape.heads) {
    std::cerr << "attnc: error: --head-index " << o.headIndex << " is not in [0, " << shape.heads
              << ") (--heads " << shape.heads << ")\n";
    return kExitUsage;
  }
  bool tokenLevel =
      o.level == "token" || (o.level == "auto" && std::max(shape.qLen, shape.kvLen) <= 1024);

  bool perHead = variesPerBatchOrHead(attention);
  std::vector<int> panelHeads;
  if (o.headIndex >= 0)
    panelHeads.push_back(o.headIndex);
  else
    for (int h = 0; h < (perHead ? std::min(shape.heads, o.maxHeads) : 1); ++h)
      panelHeads.push_back(h);
  int panels = int(panelHeads.size());
  // Token level draws (and evaluates) every pair of every panel: bound the picture's memory
  // (3 bytes a pixel, at least one pixel a pair).
  if (tokenLevel && double(panels) * shape.qLen * shape.kvLen > kMaxTokenPixels) {
    std::cerr << "attnc: error: viz --level token draws every pair; " << panels << " panel(s) of "
              << shape.qLen << " x " << shape.kvLen << " is too large (at most "
              << fmt::format("{:.3g}", kMaxTokenPixels)
              << " pairs in all; --level tile has no limit, --head-index draws one panel)\n";
    return kExitUsage;
  }

  // Tile level: the kernel's classes (TileMap.h); token level: the reference's keep matrix.
  std::string error;
  compiler::GeneratedHooks hooks;
  compiler::CodegenOptions codegen;
  codegen.hostClassifier = true;
  if (!tokenLevel && !compiler::generateHooks(*bundle.program, attention, codegen, hooks, error)) {
    std::cerr << "attnc: error: internal compiler error: " << error << "\n";
    return kExitCompileError;
  }
  std::string routingNote;
  bool routing = tokenLevel || routingAffordable(attention, shape, panels, routingNote);
  reference::ProblemInputs inputs;
  if (!(tokenLevel
            ? reference::makeProblemInputs(*bundle.program, attention, shape, o.seed, inputs, error)
            : makeTileMapInputs(*bundle.program, attention, hooks, shape, o.seed, routing, inputs,
                                error))) {
    std::cerr << "attnc: error: " << error << "\n";
    return kExitInputError;
  }
  if (!applyInputBindings(bundle, inputBindings, inputs))
    return kExitInputError;
  reference::ReferenceProblem problem = inputs.problem();
  problem.params = params;
  TileMap map;
  if (!tokenLevel) {
    TileMapOptions tileOptions;
    tileOptions.tileQ = o.tileQ;
    tileOptions.tileK = o.tileK;
    tileOptions.routing = routing;
    tileOptions.keepClasses = true;
    tileOptions.heads.clear();
    for (int head : panelHeads)
      tileOptions.heads.push_back({o.batchIndex, head});
    if (!computeTileMap(*bundle.program, attention, hooks, problem, tileOptions, map, error)) {
      std::cerr << "attnc: error: " << error << "\n";
      return kExitInputError;
    }
    if (!routing)
      std::cerr << "attnc: note: " << routingNote
                << "; the tiles are coloured by the mask alone (routing only removes pairs)\n";
  }
  int columns = std::min(panels, 4), rows = (panels + columns - 1) / columns;

  // Panel geometry: token level draws pairs (scaled up to at least 256 px); tile level
  // draws cells of at least 4 px.
  int cellsQ = tokenLevel ? shape.qLen : (shape.qLen + o.tileQ - 1) / o.tileQ;
  int cellsK = tokenLevel ? shape.kvLen : (shape.kvLen + o.tileK - 1) / o.tileK;
  int scale = std::max(1, std::min(256 / std::max(1, std::max(cellsQ, cellsK)) + 1, 16));
  if (!tokenLevel)
    scale = std::max(scale, 4);
  while (scale > 1 && std::max(cellsQ, cellsK) * scale > 2048)
    --scale;
  int panelW = cellsK * scale, panelH = cellsQ * scale;

  // Layout around each panel: a caption above, q ticks on the left, k ticks below.
  const int margin = 12, tickLength = 5, gap = 24;
  double pixelsPerQ = tokenLevel ? scale : double(scale) / o.tileQ;
  double pixelsPerK = tokenLevel ? scale : double(scale) / o.tileK;
  int stepQ = tickStep(tokenLevel ? 1 : o.tileQ, pixelsPerQ, 2 * kLineHeight);
  int stepK =
      tickStep(tokenLevel ? 1 : o.tileK, pixelsPerK, textWidth(std::to_string(shape.kvLen)) + 16);
  int labelW = textWidth(std::to_string(shape.qLen)) + tickLength + 6;
  int blockW = labelW + panelW + textWidth(std::to_string(shape.kvLen)) / 2 + 4;
  // Caption (and "q" over the q labels), panel, ticks, k labels, then "k" centred below.
  const int captionH = kLineHeight + 6;
  int blockH = captionH + panelH + tickLength + 3 + 2 * kLineHeight;

  std::string title = attention.name + "  q_len " + std::to_string(shape.qLen) + "  kv_len " +
                      std::to_string(shape.kvLen);
  title += tokenLevel
               ? std::string("  (tokens)")
               : "  (tiles of " + std::to_string(o.tileQ) + "x" + std::to_string(o.tileK) + ")";
  std::string details;
  for (const dsl::ParamDecl &decl : attention.params) {
    std::string value = "?";
    const dsl::ConstValue *v = decl.folded ? &*decl.folded : nullptr;
    for (const auto &b : params)
      if (b.name == decl.name)
        v = &b.value;
    if (v)
      value = v->type == dsl::Type::Float  ? fmt::format("{}", v->f)
              : v->type == dsl::Type::Bool ? (v->b ? "true" : "false")
                                           : std::to_string(v->i);
    details += (details.empty() ? "" : "  ") + decl.name + "=" + value;
  }
  for (const dsl::InputDecl &decl : attention.inputs) {
    std::string source = inputSource(inputBindings, decl.name, o.seed);
    source = source.substr(source.find_last_of('/') + 1); // a file's base name
    details += (details.empty() ? "" : "  ") + decl.name + ": " + source;
  }
  title = shortened(title, 160);
  details = shortened(details, 160);
  int titleH = kLineHeight * (details.empty() ? 1 : 2) + 6;

  int legendH = kLineHeight + 4;
  int width =
      std::max({2 * margin + columns * blockW + (columns - 1) * gap, 2 * margin + textWidth(title),
                2 * margin + textWidth(details), 2 * margin + 420});
  int height = margin + titleH + rows * blockH + (rows - 1) * gap + 8 + legendH + margin;
  Image image(width, height);
  image.text(margin, margin, title, kText);
  if (!details.empty())
    image.text(margin, margin + kLineHeight, details, kText);

  uint64_t counts[3] = {0, 0, 0};
  std::vector<uint8_t> keep;
  for (int p = 0; p < panels; ++p) {
    int head = panelHeads[p];
    if (tokenLevel && !reference::evaluateKeepMatrix(*bundle.program, attention, problem,
                                                     o.batchIndex, head, keep, error)) {
      std::cerr << "attnc: error: " << error << "\n";
      return kExitInputError;
    }
    int bx = margin + (p % columns) * (blockW + gap);
    int by = margin + titleH + (p / columns) * (blockH + gap);
    int x0 = bx + labelW, y0 = by + captionH;
    std::string caption = perHead
                              ? "b " + std::to_string(o.batchIndex) + ", h " + std::to_string(head)
                              : std::string("every b, h");
    image.text(x0 + std::max(0, (panelW - textWidth(caption)) / 2), by, caption, kText);
    image.fill(x0 - 1, y0 - 1, panelW + 2, panelH + 2, kFrame);
    image.fill(x0, y0, panelW, panelH, kBackground);
    for (int cq = 0; cq < cellsQ; ++cq)
      for (int ck = 0; ck < cellsK; ++ck) {
        Rgb colour;
        if (tokenLevel) {
          bool kept = keep[size_t(cq) * shape.kvLen + ck];
          counts[kept ? 2 : 0]++;
          colour = kept ? kKept : kBackground;
        } else {
          int cls = map.classes[p][size_t(cq) * cellsK + ck];
          counts[cls]++;
          colour = cls == 0 ? kEmpty : cls == 1 ? kPartial : kFull;
        }
        image.fill(x0 + ck * scale, y0 + cq * scale, scale, scale, colour);
      }
    // Ticks and labels in tokens: q down the left side, k along the bottom.
    for (int64_t t = 0; t <= shape.qLen; t += stepQ) {
      int y = y0 + int(std::lround(double(t) * pixelsPerQ));
      std::string label = std::to_string(t);
      image.fill(x0 - 1 - tickLength, y, tickLength, 1, kTick);
      image.text(x0 - tickLength - 4 - textWidth(label), y - kCapHeight / 2, label, kText);
    }
    int labelY = y0 + panelH + tickLength + 3;
    for (int64_t t = 0; t <= shape.kvLen; t += stepK) {
      int x = x0 + int(std::lround(double(t) * pixelsPerK));
      std::string label = std::to_string(t);
      image.fill(x, y0 + panelH + 1, 1, tickLength, kTick);
      image.text(x - textWidth(label) / 2, labelY, label, kText);
    }
    image.text(x0 + (panelW - textWidth("k")) / 2, labelY + kLineHeight, "k", kText);
    image.text(x0 - tickLength - 4 - textWidth("q"), by, "q", kText);
  }

  // The legend: a swatch and a count per colour.
  int lx = margin, ly = height - margin - legendH + 2;
  auto legendEntry = [&](Rgb colour, const std::string &label) {
    int box = kCapHeight + 2;
    image.fill(lx, ly, box, box, kFrame);
    image.fill(lx + 1, ly + 1, box - 2, box - 2, colour);
    image.text(lx + box + 8, ly + 1, label, kText);
    lx += box + 8 + textWidth(label) + 24;
  };
  if (tokenLevel) {
    legendEntry(kKept, fmt::format("kept {}", counts[2]));
    legendEntry(kBackground, fmt::format("masked {}", counts[0]));
  } else {
    legendEntry(kEmpty, fmt::format("empty {}", counts[0]));
    legendEntry(kPartial, fmt::format("partial {}", counts[1]));
    legendEntry(kFull, fmt::format("full {}", counts[2]));
  }

  if (!image.writePng(o.output, error)) {
    std::cerr << "attnc: error: " << error << "\n";
    return kExitRuntimeError;
  }
  for (const dsl::InputDecl &decl : attention.inputs)
    fmt::print("input {}: {}\n", decl.name, inputSource(inputBindings, decl.name, o.seed));
  std::string where = shape.batch > 1 ? fmt::format("b {}, ", o.batchIndex) : "";
  if (tokenLevel)
    fmt::print("{}: {}{} panel(s), {} x {} tokens, {} kept pairs of {}; wrote {}\n", attention.name,
               where, panels, shape.qLen, shape.kvLen, counts[2], counts[0] + counts[2], o.output);
  else
    fmt::print("{}: {}{} panel(s), {} x {} tiles of {}x{}: {} empty, {} partial, {} full "
               "(as the kernel classifies them); wrote {}\n",
               attention.name, where, panels, cellsQ, cellsK, o.tileQ, o.tileK, counts[0],
               counts[1], counts[2], o.output);
  return kExitOk;
}

} // namespace

void registerVizCommand(CLI::App &app, int &exitCode) {
  auto options = std::make_shared<VizOptions>();
  auto *cmd = app.add_subcommand("viz", "Draw the mask as a PNG (token or tile level)");
  cmd->add_option("file", options->file, "The .attn file")->required();
  cmd->add_option("-o,--output", options->output, "PNG to write")->capture_default_str();
  cmd->add_option("--attention", options->attention, "Which attention (default: the only one)");
  cmd->add_option("--q-len", options->qLen, "Query length")->capture_default_str();
  cmd->add_option("--kv-len", options->kvLen, "Key length (default: q-len)");
  cmd->add_option("--batch", options->batch, "Batch size (input files are checked against it)")
      ->capture_default_str();
  cmd->add_option("--batch-index", options->batchIndex, "Which batch element b to draw")
      ->capture_default_str();
  cmd->add_option("--heads", options->heads, "Heads (one panel each when they differ)")
      ->capture_default_str();
  cmd->add_option("--head-index", options->headIndex,
                  "Draw only head h (default: one panel per head, up to 16, when they differ)");
  cmd->add_option("--kv-heads", options->kvHeads, "Key/value heads (default: heads)");
  cmd->add_option("--head-dim", options->headDim, "Head dimension (routing gates use it)")
      ->capture_default_str();
  cmd->add_option("--level", options->level, "token, tile, or auto (token up to 1024)")
      ->check(CLI::IsMember({"auto", "token", "tile"}));
  cmd->add_option("--tile-q", options->tileQ, "Query tile for --level tile")->capture_default_str();
  cmd->add_option("--tile-k", options->tileK, "Key tile for --level tile")->capture_default_str();
  cmd->add_option("-D", options->defines, "Override a const: -D name=value");
  cmd->add_option("-P", options->params, "Set a param: -P name=value");
  cmd->add_option("--input", options->inputs,
                  "Bind an input: --input NAME=FILE.npy or NAME=VALUE (others are seeded "
                  "random)");
  cmd->add_option("--seed", options->seed, "Seed for data-dependent inputs")->capture_default_str();
  cmd->callback([options, &exitCode] { exitCode = vizCommand(*options); });
}

} // namespace attnc::tools

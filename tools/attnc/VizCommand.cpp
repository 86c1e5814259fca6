//===- VizCommand.cpp - attnc viz -----------------------------------------===//
//
// Draws the mask as a PNG: one pixel per (q, k) pair for short sequences, one cell per
// (query tile, key tile) coloured EMPTY / PARTIAL / FULL for long ones, and one panel per
// head when the pattern depends on the head. Pairs come from the CPU reference's keep
// matrix; tile classes are the kernel's (the generated classifier run on the host,
// TileMap.h). Data-dependent patterns use seeded random inputs.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "TileMap.h"
#include "ToolSupport.h"

#include "attnc/compiler/Codegen.h"
#include "attnc/reference/Random.h"

#include <fmt/format.h>
#include <png.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace attnc::tools {
namespace {

struct VizOptions {
  std::string file, attention, output = "mask.png", level = "auto";
  int batch = 0, heads = 1, kvHeads = 0, qLen = 256, kvLen = 0, headDim = 64;
  int tileQ = 128, tileK = 64, maxHeads = 16;
  std::vector<std::string> defines, params;
  uint64_t seed = 1;
};

struct Rgb {
  uint8_t r, g, b;
};
constexpr Rgb kBackground{255, 255, 255}, kKept{31, 78, 140}, kEmpty{245, 245, 245},
    kPartial{242, 153, 52}, kFull{31, 78, 140}, kFrame{180, 180, 180};

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

int vizCommand(const VizOptions &o) {
  ProgramBundle bundle;
  if (!loadProgram(o.file, o.defines, o.attention, bundle))
    return kExitInputError;
  const dsl::AttentionDecl &attention = *bundle.attention;
  std::vector<reference::ParamBinding> params;
  if (!parseParamBindings(attention, o.params, params))
    return kExitUsage;

  reference::ProblemShape shape;
  shape.batch = 1;
  shape.heads = o.heads;
  shape.kvHeads = o.kvHeads > 0 ? o.kvHeads : o.heads;
  shape.qLen = o.qLen;
  shape.kvLen = o.kvLen > 0 ? o.kvLen : o.qLen;
  shape.headDim = o.headDim;
  if (shape.heads < 1 || shape.qLen < 1 || shape.kvLen < 1 || shape.heads % shape.kvHeads) {
    std::cerr << "attnc: error: need heads, lengths >= 1 and heads divisible by kv-heads\n";
    return kExitUsage;
  }
  bool tokenLevel =
      o.level == "token" || (o.level == "auto" && std::max(shape.qLen, shape.kvLen) <= 1024);
  if (tokenLevel && double(shape.qLen) * shape.kvLen > 4.0e8) {
    std::cerr << "attnc: error: viz --level token evaluates every pair; " << shape.qLen << " x "
              << shape.kvLen << " is too large (at most 4e8 pairs; --level tile has no limit)\n";
    return kExitUsage;
  }

  bool perHead = variesPerBatchOrHead(attention);
  int panels = perHead ? std::min(shape.heads, o.maxHeads) : 1;

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
    for (int p = 0; p < panels; ++p)
      tileOptions.heads.push_back({0, p});
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
  int panelW = cellsK * scale, panelH = cellsQ * scale, gap = 8;
  Image image(columns * panelW + (columns + 1) * gap, rows * panelH + (rows + 1) * gap);

  uint64_t counts[3] = {0, 0, 0};
  std::vector<uint8_t> keep;
  for (int p = 0; p < panels; ++p) {
    if (tokenLevel &&
        !reference::evaluateKeepMatrix(*bundle.program, attention, problem, 0, p, keep, error)) {
      std::cerr << "attnc: error: " << error << "\n";
      return kExitInputError;
    }
    int x0 = gap + (p % columns) * (panelW + gap), y0 = gap + (p / columns) * (panelH + gap);
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
  }
  if (!image.writePng(o.output, error)) {
    std::cerr << "attnc: error: " << error << "\n";
    return kExitRuntimeError;
  }
  if (tokenLevel)
    fmt::print("{}: {} panel(s), {} x {} tokens, {} kept pairs of {}; wrote {}\n", attention.name,
               panels, shape.qLen, shape.kvLen, counts[2], counts[0] + counts[2], o.output);
  else
    fmt::print("{}: {} panel(s), {} x {} tiles of {}x{}: {} empty, {} partial, {} full "
               "(as the kernel classifies them); wrote {}\n",
               attention.name, panels, cellsQ, cellsK, o.tileQ, o.tileK, counts[0], counts[1],
               counts[2], o.output);
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
  cmd->add_option("--heads", options->heads, "Heads (one panel each when they differ)")
      ->capture_default_str();
  cmd->add_option("--kv-heads", options->kvHeads, "Key/value heads (default: heads)");
  cmd->add_option("--head-dim", options->headDim, "Head dimension (routing gates use it)")
      ->capture_default_str();
  cmd->add_option("--level", options->level, "token, tile, or auto (token up to 1024)")
      ->check(CLI::IsMember({"auto", "token", "tile"}));
  cmd->add_option("--tile-q", options->tileQ, "Query tile for --level tile")->capture_default_str();
  cmd->add_option("--tile-k", options->tileK, "Key tile for --level tile")->capture_default_str();
  cmd->add_option("-D", options->defines, "Override a const: -D name=value");
  cmd->add_option("-P", options->params, "Set a param: -P name=value");
  cmd->add_option("--seed", options->seed, "Seed for data-dependent inputs")->capture_default_str();
  cmd->callback([options, &exitCode] { exitCode = vizCommand(*options); });
}

} // namespace attnc::tools

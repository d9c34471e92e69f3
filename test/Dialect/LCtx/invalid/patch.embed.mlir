// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.patch.embed: patch_size, ranks of ids/table/pad/pos,
// element types, pad rows = patch_size, widths, T % P, pos covering T.

// patch_size must be > 0.
func.func @patch_size_zero(%ids: tensor<1x16xi32>, %table: tensor<256x32xf32>,
                           %pad: tensor<4x32xf32>) {
  // expected-error @+1 {{expects patch_size > 0, got 0}}
  %0 = lctx.patch.embed %ids, %table, %pad {patch_size = 0 : i64}
      : tensor<1x16xi32>, tensor<256x32xf32>, tensor<4x32xf32>
  return
}

// -----

// patch_size is required.
func.func @patch_size_missing(%ids: tensor<1x16xi32>, %table: tensor<256x32xf32>,
                              %pad: tensor<4x32xf32>) {
  // expected-error @+1 {{requires attribute 'patch_size'}}
  %0 = lctx.patch.embed %ids, %table, %pad : tensor<1x16xi32>, tensor<256x32xf32>, tensor<4x32xf32>
  return
}

// -----

// Ids must be [B, T].
func.func @ids_rank(%ids: tensor<16xi32>, %table: tensor<256x32xf32>, %pad: tensor<4x32xf32>) {
  // expected-error @+1 {{expects ids of rank 2 [B, T], got 'tensor<16xi32>'}}
  %0 = lctx.patch.embed %ids, %table, %pad {patch_size = 4 : i64}
      : tensor<16xi32>, tensor<256x32xf32>, tensor<4x32xf32>
  return
}

// -----

// The table must be [V, D_G].
func.func @table_rank(%ids: tensor<1x16xi32>, %table: tensor<256x4x8xf32>, %pad: tensor<4x32xf32>) {
  // expected-error @+1 {{expects table of rank 2 [V, D_G], got 'tensor<256x4x8xf32>'}}
  %0 = lctx.patch.embed %ids, %table, %pad {patch_size = 4 : i64}
      : tensor<1x16xi32>, tensor<256x4x8xf32>, tensor<4x32xf32>
  return
}

// -----

// The pad must be [P, D_G].
func.func @pad_rank(%ids: tensor<1x16xi32>, %table: tensor<256x32xf32>, %pad: tensor<128xf32>) {
  // expected-error @+1 {{expects pad of rank 2 [P, D_G], got 'tensor<128xf32>'}}
  %0 = lctx.patch.embed %ids, %table, %pad {patch_size = 4 : i64}
      : tensor<1x16xi32>, tensor<256x32xf32>, tensor<128xf32>
  return
}

// -----

// The pad has the table's element type.
func.func @pad_element_type(%ids: tensor<1x16xi32>, %table: tensor<256x32xbf16>,
                            %pad: tensor<4x32xf32>) {
  // expected-error @+1 {{expects pad to have the element type 'bf16' of table, got 'f32'}}
  %0 = lctx.patch.embed %ids, %table, %pad {patch_size = 4 : i64}
      : tensor<1x16xi32>, tensor<256x32xbf16>, tensor<4x32xf32>
  return
}

// -----

// The pad has one row per patch slot: P = patch_size.
func.func @pad_rows(%ids: tensor<1x16xi32>, %table: tensor<256x32xf32>, %pad: tensor<8x32xf32>) {
  // expected-error @+1 {{patch size mismatch: pad dim 0 is 8 but patch_size is 4}}
  %0 = lctx.patch.embed %ids, %table, %pad {patch_size = 4 : i64}
      : tensor<1x16xi32>, tensor<256x32xf32>, tensor<8x32xf32>
  return
}

// -----

// The pad width is the table's D_G.
func.func @pad_width(%ids: tensor<1x16xi32>, %table: tensor<256x32xf32>, %pad: tensor<4x16xf32>) {
  // expected-error @+1 {{embedding width mismatch: pad dim 1 is 16 but table dim 1 is 32}}
  %0 = lctx.patch.embed %ids, %table, %pad {patch_size = 4 : i64}
      : tensor<1x16xi32>, tensor<256x32xf32>, tensor<4x16xf32>
  return
}

// -----

// patch_size must divide T.
func.func @length_not_divisible(%ids: tensor<1x18xi32>, %table: tensor<256x32xf32>,
                                %pad: tensor<4x32xf32>) {
  // expected-error @+1 {{expects patch_size (4) to divide the sequence length (18)}}
  %0 = lctx.patch.embed %ids, %table, %pad {patch_size = 4 : i64}
      : tensor<1x18xi32>, tensor<256x32xf32>, tensor<4x32xf32>
  return
}

// -----

// The positional table must be [Tmax, D_G].
func.func @pos_rank(%ids: tensor<1x16xi32>, %table: tensor<256x32xf32>, %pad: tensor<4x32xf32>,
                    %pos: tensor<16x4x8xf32>) {
  // expected-error @+1 {{expects pos of rank 2 [Tmax, D_G], got 'tensor<16x4x8xf32>'}}
  %0 = lctx.patch.embed %ids, %table, %pad pos(%pos) {patch_size = 4 : i64}
      : tensor<1x16xi32>, tensor<256x32xf32>, tensor<4x32xf32>, tensor<16x4x8xf32>
  return
}

// -----

// The positional table has the table's element type.
func.func @pos_element_type(%ids: tensor<1x16xi32>, %table: tensor<256x32xf32>,
                            %pad: tensor<4x32xf32>, %pos: tensor<16x32xf16>) {
  // expected-error @+1 {{expects pos to have the element type 'f32' of table, got 'f16'}}
  %0 = lctx.patch.embed %ids, %table, %pad pos(%pos) {patch_size = 4 : i64}
      : tensor<1x16xi32>, tensor<256x32xf32>, tensor<4x32xf32>, tensor<16x32xf16>
  return
}

// -----

// The positional table width is the table's D_G.
func.func @pos_width(%ids: tensor<1x16xi32>, %table: tensor<256x32xf32>, %pad: tensor<4x32xf32>,
                     %pos: tensor<16x64xf32>) {
  // expected-error @+1 {{embedding width mismatch: pos dim 1 is 64 but table dim 1 is 32}}
  %0 = lctx.patch.embed %ids, %table, %pad pos(%pos) {patch_size = 4 : i64}
      : tensor<1x16xi32>, tensor<256x32xf32>, tensor<4x32xf32>, tensor<16x64xf32>
  return
}

// -----

// The positional table must cover the sequence: Tmax >= T.
func.func @pos_too_short(%ids: tensor<1x16xi32>, %table: tensor<256x32xf32>, %pad: tensor<4x32xf32>,
                         %pos: tensor<8x32xf32>) {
  // expected-error @+1 {{expects the positional table to cover the sequence: pos has 8 rows but the sequence length is 16}}
  %0 = lctx.patch.embed %ids, %table, %pad pos(%pos) {patch_size = 4 : i64}
      : tensor<1x16xi32>, tensor<256x32xf32>, tensor<4x32xf32>, tensor<8x32xf32>
  return
}

// -----

// Ids are integers (ODS constraint).
func.func @float_ids(%ids: tensor<1x16xf32>, %table: tensor<256x32xf32>, %pad: tensor<4x32xf32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of signless integer values, but got 'tensor<1x16xf32>'}}
  %0 = lctx.patch.embed %ids, %table, %pad {patch_size = 4 : i64}
      : tensor<1x16xf32>, tensor<256x32xf32>, tensor<4x32xf32>
  return
}

// -----

// patch_size is a 64-bit integer attribute (ODS constraint).
func.func @patch_size_i32(%ids: tensor<1x16xi32>, %table: tensor<256x32xf32>,
                          %pad: tensor<4x32xf32>) {
  // expected-error @+1 {{attribute 'patch_size' failed to satisfy constraint: 64-bit signless integer attribute}}
  %0 = lctx.patch.embed %ids, %table, %pad {patch_size = 4 : i32}
      : tensor<1x16xi32>, tensor<256x32xf32>, tensor<4x32xf32>
  return
}

// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.patch.to_local: patch_size, the rank and element
// type of each operand, the global width P*D_G, ids [B, K*P], and D_L.

// patch_size must be > 0.
func.func @patch_size_negative(%g: tensor<1x4x128xf32>, %wgl: tensor<32x16xf32>,
                               %ids: tensor<1x16xi32>, %ltab: tensor<256x16xf32>,
                               %lpad: tensor<16xf32>) {
  // expected-error @+1 {{expects patch_size > 0, got -4}}
  %0 = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = -4 : i64}
      : tensor<1x4x128xf32>, tensor<32x16xf32>, tensor<1x16xi32>, tensor<256x16xf32>, tensor<16xf32>
  return
}

// -----

// The global output must be [B, K, P*D_G].
func.func @global_rank(%g: tensor<4x128xf32>, %wgl: tensor<32x16xf32>, %ids: tensor<1x16xi32>,
                       %ltab: tensor<256x16xf32>, %lpad: tensor<16xf32>) {
  // expected-error @+1 {{expects global_out of rank 3 [B, K, P*D_G], got 'tensor<4x128xf32>'}}
  %0 = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = 4 : i64}
      : tensor<4x128xf32>, tensor<32x16xf32>, tensor<1x16xi32>, tensor<256x16xf32>, tensor<16xf32>
  return
}

// -----

// w_gl must be [D_G, D_L].
func.func @w_gl_rank(%g: tensor<1x4x128xf32>, %wgl: tensor<4x32x16xf32>, %ids: tensor<1x16xi32>,
                     %ltab: tensor<256x16xf32>, %lpad: tensor<16xf32>) {
  // expected-error @+1 {{expects w_gl of rank 2 [D_G, D_L], got 'tensor<4x32x16xf32>'}}
  %0 = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = 4 : i64}
      : tensor<1x4x128xf32>, tensor<4x32x16xf32>, tensor<1x16xi32>, tensor<256x16xf32>,
        tensor<16xf32>
  return
}

// -----

// Ids must be [B, K*P].
func.func @ids_rank(%g: tensor<1x4x128xf32>, %wgl: tensor<32x16xf32>, %ids: tensor<1x4x4xi32>,
                    %ltab: tensor<256x16xf32>, %lpad: tensor<16xf32>) {
  // expected-error @+1 {{expects ids of rank 2 [B, K*P], got 'tensor<1x4x4xi32>'}}
  %0 = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = 4 : i64}
      : tensor<1x4x128xf32>, tensor<32x16xf32>, tensor<1x4x4xi32>, tensor<256x16xf32>,
        tensor<16xf32>
  return
}

// -----

// The local table must be [V, D_L].
func.func @local_table_rank(%g: tensor<1x4x128xf32>, %wgl: tensor<32x16xf32>,
                            %ids: tensor<1x16xi32>, %ltab: tensor<256xf32>, %lpad: tensor<16xf32>) {
  // expected-error @+1 {{expects local_table of rank 2 [V, D_L], got 'tensor<256xf32>'}}
  %0 = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = 4 : i64}
      : tensor<1x4x128xf32>, tensor<32x16xf32>, tensor<1x16xi32>, tensor<256xf32>, tensor<16xf32>
  return
}

// -----

// The local pad must be [D_L].
func.func @local_pad_rank(%g: tensor<1x4x128xf32>, %wgl: tensor<32x16xf32>, %ids: tensor<1x16xi32>,
                          %ltab: tensor<256x16xf32>, %lpad: tensor<1x16xf32>) {
  // expected-error @+1 {{expects local_pad of rank 1 [D_L], got 'tensor<1x16xf32>'}}
  %0 = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = 4 : i64}
      : tensor<1x4x128xf32>, tensor<32x16xf32>, tensor<1x16xi32>, tensor<256x16xf32>,
        tensor<1x16xf32>
  return
}

// -----

// w_gl has global_out's element type.
func.func @w_gl_element_type(%g: tensor<1x4x128xbf16>, %wgl: tensor<32x16xf32>,
                             %ids: tensor<1x16xi32>, %ltab: tensor<256x16xbf16>,
                             %lpad: tensor<16xbf16>) {
  // expected-error @+1 {{expects w_gl to have the element type 'bf16' of global_out, got 'f32'}}
  %0 = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = 4 : i64}
      : tensor<1x4x128xbf16>, tensor<32x16xf32>, tensor<1x16xi32>, tensor<256x16xbf16>,
        tensor<16xbf16>
  return
}

// -----

// The local table has global_out's element type.
func.func @local_table_element_type(%g: tensor<1x4x128xf32>, %wgl: tensor<32x16xf32>,
                                    %ids: tensor<1x16xi32>, %ltab: tensor<256x16xf16>,
                                    %lpad: tensor<16xf32>) {
  // expected-error @+1 {{expects local_table to have the element type 'f32' of global_out, got 'f16'}}
  %0 = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = 4 : i64}
      : tensor<1x4x128xf32>, tensor<32x16xf32>, tensor<1x16xi32>, tensor<256x16xf16>, tensor<16xf32>
  return
}

// -----

// The local pad has global_out's element type.
func.func @local_pad_element_type(%g: tensor<1x4x128xf32>, %wgl: tensor<32x16xf32>,
                                  %ids: tensor<1x16xi32>, %ltab: tensor<256x16xf32>,
                                  %lpad: tensor<16xbf16>) {
  // expected-error @+1 {{expects local_pad to have the element type 'f32' of global_out, got 'bf16'}}
  %0 = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = 4 : i64}
      : tensor<1x4x128xf32>, tensor<32x16xf32>, tensor<1x16xi32>, tensor<256x16xf32>,
        tensor<16xbf16>
  return
}

// -----

// The global width is patch_size x D_G (w_gl dim 0).
func.func @global_width(%g: tensor<1x4x96xf32>, %wgl: tensor<32x16xf32>, %ids: tensor<1x16xi32>,
                        %ltab: tensor<256x16xf32>, %lpad: tensor<16xf32>) {
  // expected-error @+1 {{global width mismatch: global_out dim 2 is 96 but patch_size x D_G (w_gl dim 0) is 128}}
  %0 = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = 4 : i64}
      : tensor<1x4x96xf32>, tensor<32x16xf32>, tensor<1x16xi32>, tensor<256x16xf32>, tensor<16xf32>
  return
}

// -----

// The ids batch matches the global batch.
func.func @ids_batch(%g: tensor<2x4x128xf32>, %wgl: tensor<32x16xf32>, %ids: tensor<1x16xi32>,
                     %ltab: tensor<256x16xf32>, %lpad: tensor<16xf32>) {
  // expected-error @+1 {{batch mismatch: ids dim 0 is 1 but global_out dim 0 is 2}}
  %0 = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = 4 : i64}
      : tensor<2x4x128xf32>, tensor<32x16xf32>, tensor<1x16xi32>, tensor<256x16xf32>, tensor<16xf32>
  return
}

// -----

// The ids length is K x P.
func.func @ids_length(%g: tensor<1x4x128xf32>, %wgl: tensor<32x16xf32>, %ids: tensor<1x12xi32>,
                      %ltab: tensor<256x16xf32>, %lpad: tensor<16xf32>) {
  // expected-error @+1 {{sequence length mismatch: ids dim 1 is 12 but patches (global_out dim 1) x patch_size is 16}}
  %0 = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = 4 : i64}
      : tensor<1x4x128xf32>, tensor<32x16xf32>, tensor<1x12xi32>, tensor<256x16xf32>, tensor<16xf32>
  return
}

// -----

// The local table width is D_L (w_gl dim 1).
func.func @local_table_width(%g: tensor<1x4x128xf32>, %wgl: tensor<32x16xf32>,
                             %ids: tensor<1x16xi32>, %ltab: tensor<256x24xf32>,
                             %lpad: tensor<16xf32>) {
  // expected-error @+1 {{local width mismatch: local_table dim 1 is 24 but w_gl dim 1 is 16}}
  %0 = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = 4 : i64}
      : tensor<1x4x128xf32>, tensor<32x16xf32>, tensor<1x16xi32>, tensor<256x24xf32>, tensor<16xf32>
  return
}

// -----

// The local pad width is D_L (w_gl dim 1).
func.func @local_pad_width(%g: tensor<1x4x128xf32>, %wgl: tensor<32x16xf32>, %ids: tensor<1x16xi32>,
                           %ltab: tensor<256x16xf32>, %lpad: tensor<8xf32>) {
  // expected-error @+1 {{local width mismatch: local_pad dim 0 is 8 but w_gl dim 1 is 16}}
  %0 = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = 4 : i64}
      : tensor<1x4x128xf32>, tensor<32x16xf32>, tensor<1x16xi32>, tensor<256x16xf32>, tensor<8xf32>
  return
}

// -----

// Ids are integers (ODS constraint).
func.func @float_ids(%g: tensor<1x4x128xf32>, %wgl: tensor<32x16xf32>, %ids: tensor<1x16xf32>,
                     %ltab: tensor<256x16xf32>, %lpad: tensor<16xf32>) {
  // expected-error @+1 {{operand #2 must be ranked tensor of signless integer values, but got 'tensor<1x16xf32>'}}
  %0 = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = 4 : i64}
      : tensor<1x4x128xf32>, tensor<32x16xf32>, tensor<1x16xf32>, tensor<256x16xf32>, tensor<16xf32>
  return
}
